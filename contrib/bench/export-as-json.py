#!/usr/bin/env python3
"""The synthetic district as one native JSON export (docs/export-format.md), to measure
`format = json` against the same rows as CSV (issue 34):

    export-as-json.py bench-data/scale-1.0/base export.json

reads the seven entity files `sisync-bench` generated and writes one document; list
columns become arrays."""
import csv, json, sys, os
src, out = sys.argv[1], sys.argv[2]
lists = {"school_ids", "evaluator_staff_ids"}
order = ["staff","students","households","household_relationships","applicants","donors","attributes"]
with open(out, "w", encoding="utf-8") as f:
    f.write('{"format": "sisync-export", "version": 1, "generated_at": "2026-09-01T06:00:00Z"')
    for e in order:
        f.write(',\n "%s": [' % e)
        with open(os.path.join(src, e + ".csv"), newline="", encoding="utf-8-sig") as c:
            r = csv.DictReader(c)
            first = True
            for row in r:
                o = {k: (v.split(";") if k in lists and v else ([] if k in lists else v)) for k, v in row.items()}
                f.write(("\n  " if first else ",\n  ") + json.dumps(o, ensure_ascii=False, separators=(",", ":")))
                first = False
        f.write("]")
    f.write("}\n")

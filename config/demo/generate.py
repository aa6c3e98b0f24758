#!/usr/bin/env python3
"""Writes the bundled demo export of "Riverside Unified" in both native formats: the seven
CSV files of docs/export-format.md and export.json, into this directory.

Three schools: 101 Riverside Elementary (K-5), 102 Riverside Middle (6-8), 103 Riverside
High (9-12). 60 staff, 400 students in 250 households, 30 applicants, 15 donors, 100
attributes, all for the 2026-2027 school year.

Deterministic (fixed seed, fixed generated_at): run it again and the files come out the
same. Python 3 standard library only. UTF-8 without BOM, LF line endings, RFC 4180 quoting.

    python3 config/demo/generate.py
"""
import csv
import io
import json
import os
import random
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
YEAR = "2026-2027"
GENERATED_AT = "2026-09-01T06:00:00Z"
STAFF_DOMAIN = "riverside.k12.example.org"
STUDENT_DOMAIN = "students.riverside.k12.example.org"

# school id -> (name, lowest grade, highest grade); grade 0 is K
SCHOOLS = {"101": ("Riverside Elementary", 0, 5),
           "102": ("Riverside Middle", 6, 8),
           "103": ("Riverside High", 9, 12)}

COLUMNS = {
    "staff": ["staff_id", "first_name", "last_name", "email", "title", "school_ids", "status"],
    "students": ["student_id", "first_name", "last_name", "email", "school_id", "grade",
                 "enrollment_status", "school_year"],
    "households": ["household_id", "name"],
    "household_relationships": ["household_id", "record_type", "record_id", "relationship"],
    "applicants": ["applicant_id", "first_name", "last_name", "status", "evaluator_staff_ids"],
    "donors": ["donor_id", "name", "email"],
    "attributes": ["record_type", "record_id", "attribute", "school_year"],
}
LIST_FIELDS = {"school_ids", "evaluator_staff_ids"}

FIRST = ["Zoë", "José", "Siobhán", "François", "Björn", "Aisha", "Chen", "Mary-Kate", "Dmitri",
         "Núria", "Liam", "Olivia", "Noah", "Emma", "Mateo", "Sofía", "Kwame", "Ingrid", "Renée",
         "Tomás", "Hannah", "Jamal", "Priya", "Łukasz", "Amélie", "Oisín", "Yuki", "Fatima",
         "Elías", "Grace", "Ava", "Ethan", "Mia", "Lucas", "Isabella", "Benjamin", "Chloé",
         "Samuel", "Leila", "Daniel", "Ana", "Gabriel", "Maya", "Owen", "Zara", "Henry", "Nora",
         "Caleb", "Ines", "Arjun", "Ruby", "Felix", "Camila", "Jonah", "Freya", "Omar", "Lucía",
         "Theo", "Ayesha", "Declan", "Sinéad", "Anders", "Marisol", "Kenji", "Esther", "Malik"]
LAST = ["O'Brien", "Núñez", "D'Arcy", "Lefèvre", "Ødegård", "Okafor", "Wang", "McAllister",
        "Ivanova", "Puig", "Smith", "Johnson", "García", "Müller", "Rossi", "N'Diaye",
        "O'Connor", "Schäfer", "Kowalski", "Dubois", "Brown", "Nguyen", "Patel", "Álvarez",
        "Fitzgerald", "Jørgensen", "Tanaka", "Haddad", "Costa", "Lee", "Martínez", "Anderson",
        "Thompson", "Kim", "Hernández", "Walker", "Reyes", "Murphy", "Kaur", "Novák", "Brennan",
        "Sørensen", "Mensah", "Da Silva", "Van der Berg", "Łoś", "Hughes", "Yilmaz", "Cohen",
        "Petrović", "Chávez", "Bianchi", "Ramírez", "MacLeod", "Adeyemi", "Lindqvist",
        "Gallagher", "Singh", "Ortiz", "Whitfield"]

# Titles and schools of the 60 staff positions. Commas make the CSV quote the title; the
# coach's title also holds double quotes (RFC 4180 doubling).
POSITIONS = (
    [("Principal", ["101"]), ("Teacher, Kindergarten", ["101"]), ("Teacher, Kindergarten", ["101"])]
    + [(f"Teacher, Grade {g}", ["101"]) for g in range(1, 6) for _ in range(2)]
    + [("Office Manager", ["101"]), ("School Nurse", ["101"]), ("Librarian", ["101"]),
       ("Aide", ["101"]), ("Aide", ["101"]), ("Teacher, Special Education", ["101"])]
    + [("Principal", ["102"]), ("Assistant Principal", ["102"]), ("Teacher, Mathematics", ["102"]),
       ("Teacher, Mathematics", ["102"]), ("Teacher, English", ["102"]), ("Teacher, English", ["102"]),
       ("Teacher, Science", ["102"]), ("Teacher, Social Studies", ["102"]), ("Teacher, Spanish", ["102"]),
       ("Counselor", ["102"]), ("Office Manager", ["102"]), ("Aide", ["102"]),
       ("Teacher, Special Education", ["102"])]
    + [("Principal", ["103"]), ("Assistant Principal", ["103"]), ("Teacher, Mathematics", ["103"]),
       ("Teacher, Mathematics", ["103"]), ("Teacher, English", ["103"]), ("Teacher, English", ["103"]),
       ("Teacher, Biology", ["103"]), ("Teacher, Chemistry", ["103"]), ("Teacher, Physics", ["103"]),
       ("Teacher, History", ["103"]), ("Teacher, History", ["103"]), ("Teacher, French", ["103"]),
       ("Counselor", ["103"]), ("Counselor", ["103"]), ("Athletic Director", ["103"]),
       ('Coach, "Varsity" Soccer', ["103"]), ("Librarian", ["103"]), ("Office Manager", ["103"])]
    + [("Teacher, Music", ["101", "102"]), ("Teacher, Art", ["102", "103"]),
       ("School Psychologist", ["101", "102"]), ("Speech-Language Pathologist", ["101", "103"]),
       ("IT Technician", ["102", "103"]), ("Teacher, Physical Education", ["102", "103"]),
       ("Band Director", ["102", "103"]), ("English Learner Specialist", ["101", "102"]),
       ("Occupational Therapist", ["101", "103"]), ("Registrar", ["102", "103"])]
)
# S1001..S1005: the names the README and the tests use.
NAMED_STAFF = [("Zoë", "O'Brien"), ("José", "Núñez"), ("Siobhán", "D'Arcy"),
               ("François", "Lefèvre"), ("Björn", "Ødegård")]
EVALUATOR_TITLES = {"Principal", "Assistant Principal", "Counselor", "Registrar"}

DONORS = [("Whitfield Family Foundation", "grants@whitfieldfoundation.example.org"),
          ("Margaret & Tom Brennan", "mtbrennan@example.com"),
          ("Riverside Hardware & Supply", "office@riversidehardware.example.com"),
          ("Hélène Marchand", "helene.marchand@example.net"),
          ("O'Malley's Bakery", "hello@omalleysbakery.example.com"),
          ("The Núñez Family Trust", "trust@nunezfamily.example.org"),
          ("Riverside Rotary Club", "treasurer@riversiderotary.example.org"),
          ("Dr. Kenji Tanaka", "kenji.tanaka@example.com"),
          ("Valley Credit Union", "community@valleycu.example.com"),
          ("Astrid Lindqvist", "astrid.lindqvist@example.net"),
          ("Chávez Orthodontics", "info@chavezortho.example.com"),
          ("Riverside High Alumni Association", "alumni@rhsalumni.example.org"),
          ("Samuel & Esther Cohen", "cohen.family@example.com"),
          ("Northbank Dental Group", "outreach@northbankdental.example.com"),
          ("Friends of Riverside Music", "friends@riversidemusic.example.org")]

# Letters that NFKD does not decompose into ASCII.
TRANSLIT = str.maketrans({"Ø": "O", "ø": "o", "Ł": "L", "ł": "l", "ß": "ss", "Æ": "Ae",
                          "æ": "ae", "Œ": "Oe", "œ": "oe", "Đ": "D", "đ": "d", "Þ": "Th",
                          "þ": "th", "ı": "i"})

rng = random.Random(20262027)


def ascii_slug(text):
    """Zoë -> zoe, O'Brien -> obrien, Ødegård -> odegard, Van der Berg -> vanderberg."""
    plain = unicodedata.normalize("NFKD", text.translate(TRANSLIT)).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum() or c == "-")


def grade_label(grade):
    return "K" if grade == 0 else str(grade)


def school_for(grade):
    return next(sid for sid, (_, lo, hi) in SCHOOLS.items() if lo <= grade <= hi)


def make_staff():
    names, seen = list(NAMED_STAFF), {ascii_slug(f) + "." + ascii_slug(l) for f, l in NAMED_STAFF}
    while len(names) < len(POSITIONS):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = ascii_slug(first) + "." + ascii_slug(last)
        if local not in seen:
            seen.add(local)
            names.append((first, last))
    positions = list(POSITIONS)
    rng.shuffle(positions)
    staff = []
    for i, ((first, last), (title, schools)) in enumerate(zip(names, positions)):
        email = f"{ascii_slug(first)}.{ascii_slug(last)}@{STAFF_DOMAIN}"
        staff.append({"staff_id": f"S{1001 + i}", "first_name": first, "last_name": last,
                      "email": email, "title": title, "school_ids": list(schools), "status": "active"})
    # Two people who left the district but are still listed by the SIS as inactive.
    leavers = [s for s in staff[5:] if s["title"].startswith(("Teacher", "Aide"))]
    for s in rng.sample(leavers, 2):
        s["status"] = "inactive"
    return staff


def make_households():
    households = []
    for i in range(250):
        last = rng.choice(LAST)
        if rng.random() < 0.04:
            other = rng.choice(LAST)
            if other != last:
                last = f"{last}-{other}"
        households.append({"household_id": f"H{3001 + i}", "name": f"The {last} Family",
                           "surname": last, "relationship": rng.choices(
                               ["Parent", "Guardian", "Grandparent"], [85, 10, 5])[0]})
    return households


def make_students(families):
    """400 students in the first 210 households (families), siblings share a surname."""
    sizes = [1] * len(families)
    for _ in range(400 - len(families)):
        sizes[rng.randrange(len(families))] += 1
    children = []
    for household, size in zip(families, sizes):
        firsts = rng.sample(FIRST, size)
        for first in firsts:
            children.append((household, first, household["surname"], rng.randint(0, 12)))
    rng.shuffle(children)
    students, family_of = [], {}
    for i, (household, first, last, grade) in enumerate(children):
        sid = f"ST{20001 + i}"
        status = rng.choices(["Enrolled", "Withdrawn"], [95, 5])[0]
        if grade == 12 and rng.random() < 0.15:
            status = "Graduated"
        email = ""
        if grade >= 6:
            email = f"{ascii_slug(first)[0]}{ascii_slug(last)}{sid[2:]}@{STUDENT_DOMAIN}"
        students.append({"student_id": sid, "first_name": first, "last_name": last, "email": email,
                         "school_id": school_for(grade), "grade": grade_label(grade),
                         "enrollment_status": status, "school_year": YEAR})
        family_of[sid] = household
    return students, family_of


def main():
    staff = make_staff()
    households = make_households()
    families, other_homes, new_families = households[:210], households[210:235], households[235:]
    students, family_of = make_students(families)

    relationships = []
    for s in students:
        h = family_of[s["student_id"]]
        relationships.append((h, "student", s["student_id"], h["relationship"]))
    # Separated parents: the children of 25 families also live in a second household.
    for family, home in zip(rng.sample(families, len(other_homes)), other_homes):
        home["relationship"] = "Parent"
        for s in students:
            if family_of[s["student_id"]] is family:
                relationships.append((home, "student", s["student_id"], "Parent"))

    # Applicants: 15 younger siblings of students, 15 from families new to the district.
    evaluators = [s["staff_id"] for s in staff
                  if s["status"] == "active" and s["title"] in EVALUATOR_TITLES]
    applicant_homes = rng.sample(families, 15) + new_families
    applicants = []
    for i, h in enumerate(applicant_homes):
        status = rng.choices(["Inquiry", "Applied", "Accepted", "Copied"], [8, 10, 7, 5])[0]
        count = 0 if status == "Inquiry" and rng.random() < 0.7 else rng.choice([1, 1, 2])
        applicant_id = f"A{4001 + i}"
        applicants.append({"applicant_id": applicant_id, "first_name": rng.choice(FIRST),
                           "last_name": h["surname"], "status": status,
                           "evaluator_staff_ids": sorted(rng.sample(evaluators, count))})
        relationships.append((h, "applicant", applicant_id,
                              "Guardian" if h["relationship"] == "Guardian" else "Parent"))
    relationships = [{"household_id": h["household_id"], "record_type": t, "record_id": r,
                      "relationship": rel}
                     for h, t, r, rel in sorted(relationships, key=lambda x: (x[0]["household_id"], x[1], x[2]))]

    donors = [{"donor_id": f"D{5001 + i}", "name": name, "email": email}
              for i, (name, email) in enumerate(DONORS)]

    enrolled = [s for s in students if s["enrollment_status"] == "Enrolled"]
    honor_pool = [s for s in enrolled if s["grade"] not in ("K", "1", "2")]
    bus_pool = [s for s in enrolled if s["school_id"] in ("101", "102")]
    plan = ([("student", s["student_id"], "Honor Roll", YEAR) for s in rng.sample(honor_pool, 30)]
            + [("student", s["student_id"], "Bus Rider", YEAR) for s in rng.sample(bus_pool, 31)]
            + [("household", h["household_id"], "Booster Club", YEAR) for h in rng.sample(families, 12)]
            + [("household", h["household_id"], "PTA Volunteer", YEAR) for h in rng.sample(families, 10)]
            + [("household", h["household_id"], "Alumni Family", "") for h in rng.sample(families, 4)]
            + [("donor", d["donor_id"], "Major Donor", "") for d in rng.sample(donors, 5)]
            + [("donor", d["donor_id"], "Annual Fund", YEAR) for d in rng.sample(donors, 8)])
    attributes = [{"record_type": t, "record_id": r, "attribute": a, "school_year": y}
                  for t, r, a, y in sorted(plan, key=lambda x: (x[0], x[1], x[2]))]

    export = {"staff": staff, "students": students,
              "households": [{"household_id": h["household_id"], "name": h["name"]} for h in households],
              "household_relationships": relationships, "applicants": applicants,
              "donors": donors, "attributes": attributes}
    check(export)

    for entity, rows in export.items():
        write_csv(entity, rows)
    write_json(export)
    for entity, rows in export.items():
        print(f"{entity}.csv: {len(rows)} rows")


def check(export):
    """Ids unique per entity, relationships and attributes name existing records."""
    ids = {}
    for entity, key in [("staff", "staff_id"), ("students", "student_id"), ("households", "household_id"),
                        ("applicants", "applicant_id"), ("donors", "donor_id")]:
        values = [r[key] for r in export[entity]]
        assert len(values) == len(set(values)), entity
        ids[entity] = set(values)
    emails = [s["email"] for s in export["staff"]]
    assert len(emails) == len(set(emails)) and all(e.isascii() and e == e.lower() for e in emails)
    kinds = {"student": "students", "applicant": "applicants", "household": "households", "donor": "donors"}
    pairs = [(r["household_id"], r["record_type"], r["record_id"]) for r in export["household_relationships"]]
    assert len(pairs) == len(set(pairs))
    for h, t, r in pairs:
        assert h in ids["households"] and r in ids[kinds[t]], (h, t, r)
    triples = [(a["record_type"], a["record_id"], a["attribute"]) for a in export["attributes"]]
    assert len(triples) == len(set(triples))
    for t, r, _ in triples:
        assert r in ids[kinds[t]], (t, r)
    for a in export["applicants"]:
        assert all(e in ids["staff"] for e in a["evaluator_staff_ids"])


def write_csv(entity, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS[entity])
    for r in rows:
        w.writerow([";".join(r[c]) if c in LIST_FIELDS else r[c] for c in COLUMNS[entity]])
    with open(os.path.join(HERE, f"{entity}.csv"), "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())


def write_json(export):
    """One record per line: readable, and a regenerated file diffs line by line."""
    out = ['{"format": "sisync-export", "version": 1, "generated_at": ' + json.dumps(GENERATED_AT) + ","]
    entities = list(export)
    for n, entity in enumerate(entities):
        records = [json.dumps({c: r[c] for c in COLUMNS[entity]}, ensure_ascii=False) for r in export[entity]]
        body = ",\n".join(" " + r for r in records)
        out.append(f'"{entity}": [\n{body}\n]' + ("," if n < len(entities) - 1 else ""))
    out.append("}")
    with open(os.path.join(HERE, "export.json"), "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()

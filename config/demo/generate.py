#!/usr/bin/env python3
"""Writes the bundled demo export of "Riverside Unified" (three schools) in both native
formats: the seven CSV files of SPEC 2.1 and export.json (SPEC 2.2). Deterministic: run it
again and the files come out the same. Python standard library only."""
import csv
import io
import json
import os
import random
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
YEAR = "2026-2027"
SCHOOLS = {"101": (0, 5), "102": (6, 8), "103": (9, 12)}  # school id -> grade range

rng = random.Random(2026)

FIRST = ["Zoë", "José", "Siobhán", "François", "Björn", "Aisha", "Chen", "Mary-Kate", "Dmitri", "Núria",
         "Liam", "Olivia", "Noah", "Emma", "Mateo", "Sofía", "Kwame", "Ingrid", "Renée", "Tomás",
         "Hannah", "Jamal", "Priya", "Łukasz", "Amélie", "Oisín", "Yuki", "Fatima", "Elías", "Grace"]
LAST = ["O'Brien", "Núñez", "D'Arcy", "Lefèvre", "Ødegård", "Okafor", "Wang", "McAllister", "Ivanova", "Puig",
        "Smith", "Johnson", "García", "Müller", "Rossi", "N'Diaye", "O'Connor", "Schäfer", "Kowalski", "Dubois",
        "Brown", "Nguyen", "Patel", "Álvarez", "Fitzgerald", "Jørgensen", "Tanaka", "Haddad", "Costa", "Lee"]
TITLES = ["Teacher, Mathematics", "Teacher, English", "Teacher, Science", "Teacher, History", "Teacher",
          "Principal", "Assistant Principal", "Counselor", "School Nurse", "Librarian", "Aide",
          "Coach, \"Varsity\" Soccer", "Special Education Teacher", "Office Manager", "IT Technician"]


def ascii_slug(text):
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum() or c == "-")


def write_csv(name, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([";".join(v) if isinstance(v, list) else v for v in r])
    with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())


def main():
    staff, seen_emails = [], set()
    for i in range(60):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        email = f"{ascii_slug(first)}.{ascii_slug(last)}@riverside.k12.example.org"
        if email in seen_emails:
            email = f"{ascii_slug(first)}.{ascii_slug(last)}{i}@riverside.k12.example.org"
        seen_emails.add(email)
        schools = sorted(rng.sample(list(SCHOOLS), rng.choice([1, 1, 1, 2])))
        status = "inactive" if i in (17, 42) else "active"
        staff.append([f"S{1001 + i}", first, last, email, TITLES[i % len(TITLES)], schools, status])

    students = []
    for i in range(400):
        school = rng.choice(list(SCHOOLS))
        lo, hi = SCHOOLS[school]
        grade = rng.randint(lo, hi)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        sid = f"ST{20001 + i}"
        email = f"{sid.lower()}@students.riverside.k12.example.org" if grade >= 6 else ""
        status = rng.choices(["Enrolled", "Withdrawn", "Graduated"], [92, 6, 2])[0]
        students.append([sid, first, last, email, school, "K" if grade == 0 else str(grade), status, YEAR])

    households = []
    for i in range(250):
        households.append([f"H{3001 + i}", f"The {rng.choice(LAST)} Family"])

    applicants = []
    staff_ids = [s[0] for s in staff if s[6] == "active"]
    for i in range(30):
        evaluators = sorted(rng.sample(staff_ids, rng.choice([0, 1, 1, 2])))
        applicants.append([f"A{4001 + i}", rng.choice(FIRST), rng.choice(LAST),
                           rng.choice(["Inquiry", "Applied", "Accepted", "Copied"]), evaluators])

    relationships, keys = [], set()
    for s in students:
        for _ in range(rng.choice([1, 1, 2])):
            h = rng.choice(households)[0]
            key = (h, "student", s[0])
            if key in keys:
                continue
            keys.add(key)
            relationships.append([h, "student", s[0], rng.choices(["Parent", "Guardian", "Grandparent"], [80, 15, 5])[0]])
    for a in applicants:
        h = rng.choice(households)[0]
        keys.add((h, "applicant", a[0]))
        relationships.append([h, "applicant", a[0], "Parent"])

    donors = []
    for i in range(15):
        last = rng.choice(LAST)
        donors.append([f"D{5001 + i}", f"{last} Family Foundation", f"giving.{ascii_slug(last)}{i}@example.org"])

    attributes, akeys = [], set()
    candidates = ([("student", s[0], a) for s in students for a in ("Honor Roll", "Bus Rider")]
                  + [("household", h[0], "Booster Club") for h in households]
                  + [("donor", d[0], "Major Donor") for d in donors])
    for record_type, record_id, attribute in rng.sample(candidates, 100):
        year = YEAR if record_type != "donor" else ""
        if (record_type, record_id, attribute, year) in akeys:
            continue
        akeys.add((record_type, record_id, attribute, year))
        attributes.append([record_type, record_id, attribute, year])

    write_csv("staff.csv", ["staff_id", "first_name", "last_name", "email", "title", "school_ids", "status"], staff)
    write_csv("students.csv", ["student_id", "first_name", "last_name", "email", "school_id", "grade",
                               "enrollment_status", "school_year"], students)
    write_csv("households.csv", ["household_id", "name"], households)
    write_csv("household_relationships.csv", ["household_id", "record_type", "record_id", "relationship"], relationships)
    write_csv("applicants.csv", ["applicant_id", "first_name", "last_name", "status", "evaluator_staff_ids"], applicants)
    write_csv("donors.csv", ["donor_id", "name", "email"], donors)
    write_csv("attributes.csv", ["record_type", "record_id", "attribute", "school_year"], attributes)

    def objects(header, rows, lists=()):
        return [{h: (v if h in lists else v) for h, v in zip(header, r)} for r in rows]

    doc = {
        "format": "sisync-export", "version": 1, "generated_at": "2026-09-01T06:00:00Z",
        "staff": objects(["staff_id", "first_name", "last_name", "email", "title", "school_ids", "status"], staff),
        "students": objects(["student_id", "first_name", "last_name", "email", "school_id", "grade",
                             "enrollment_status", "school_year"], students),
        "households": objects(["household_id", "name"], households),
        "household_relationships": objects(["household_id", "record_type", "record_id", "relationship"], relationships),
        "applicants": objects(["applicant_id", "first_name", "last_name", "status", "evaluator_staff_ids"], applicants),
        "donors": objects(["donor_id", "name", "email"], donors),
        "attributes": objects(["record_type", "record_id", "attribute", "school_year"], attributes),
    }
    with open(os.path.join(HERE, "export.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    for name, rows in [("staff", staff), ("students", students), ("households", households),
                       ("household_relationships", relationships), ("applicants", applicants),
                       ("donors", donors), ("attributes", attributes)]:
        print(f"{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The peer of `sisync-bench --users-side`: a plain Python + sqlite3 script doing the same
steps on the same synthetic district, the yardstick issue 34's ratios are taken against.

    users-side-peer.py STEP DATABASE SOURCE

STEP is one of records, user-import, first-link, unchanged, day-all, day-user-import,
day-all-2 (the bench's steps, in that order, on one database); SOURCE is the export
directory (or the users' CSV for the user imports). It prints one line: the step, its
seconds and its peak RSS in MB, tab-separated (`sisync-bench --users-side --peer` runs it
after each of sisync's steps). What it does is what a careful script would do, not what
sisync does:
- records: every file read with the csv module, each entity's rows inserted with
  executemany into a table keyed as sisync keys it, `active` and `added_run` kept;
- a run (first-link, unchanged, day-all, day-all-2): the files' SHA-256 compared with the
  last applied, and each changed file read and compared with the stored rows by key
  (updates, additions, deactivations written with executemany); then, on every run (users
  change outside the export), the users linked by their lowercased email to the one active
  staff member with that email (a link to one who became inactive kept while the emails
  still match, as R6 keeps it), and the calculated roles (Staff, Student, Parent,
  Applicant, Admissions Evaluator, attribute roles, by sisync's rules for the bench's
  configuration) computed with SQL into a table and the differences granted and revoked;
- user-import: the file's users and attachments inserted with executemany into sisync's
  version 10 users' tables (username primary key, unique email, the email key index, the
  attachments keyed by user with an index by record).
"""
import csv, hashlib, os, resource, sqlite3, sys, time

KEYS = {
    "staff": ["staff_id"], "students": ["student_id"], "households": ["household_id"],
    "household_relationships": ["household_id", "record_type", "record_id"],
    "applicants": ["applicant_id"], "donors": ["donor_id"],
    "attributes": ["record_type", "record_id", "attribute", "school_year"],
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS export_files (entity TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
  username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE, email TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name TEXT NOT NULL DEFAULT '', approved INTEGER NOT NULL DEFAULT 0, locked INTEGER NOT NULL DEFAULT 0,
  failed_logins INTEGER NOT NULL DEFAULT 0, password_hash TEXT, created_at TEXT NOT NULL, email_key TEXT, added_by TEXT);
CREATE INDEX IF NOT EXISTS users_by_email_key ON users (email_key);
CREATE TABLE IF NOT EXISTS user_attachments (
  username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username) ON DELETE CASCADE,
  kind TEXT NOT NULL, record_id TEXT NOT NULL, added_by TEXT, added_at TEXT, added_seq INTEGER,
  PRIMARY KEY (username, kind, record_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS user_attachments_by_record ON user_attachments (kind, record_id);
CREATE TABLE IF NOT EXISTS links (
  username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE REFERENCES users(username),
  staff_id TEXT NOT NULL, kind TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS links_by_staff ON links (staff_id);
CREATE TABLE IF NOT EXISTS user_roles (
  username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username) ON DELETE CASCADE,
  role TEXT NOT NULL, source TEXT NOT NULL, school_year TEXT NOT NULL DEFAULT '', granted_run INTEGER,
  PRIMARY KEY (username, source, role, school_year)) WITHOUT ROWID;
"""


def read(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def open_db(path):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(SCHEMA)
    return db


def ensure_table(db, entity, header):
    keys = KEYS[entity]
    cols = ", ".join(f'"{c}" TEXT NOT NULL' for c in header)
    db.execute(f'CREATE TABLE IF NOT EXISTS "{entity}" ({cols}, active INTEGER NOT NULL DEFAULT 1, added_run INTEGER, '
               f'PRIMARY KEY ({", ".join(keys)}))')


def apply_records(db, export, run):
    """Every changed file compared with the stored rows by key; True when anything changed."""
    changed = False
    for entity in KEYS:
        path = os.path.join(export, entity + ".csv")
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        stored = db.execute("SELECT sha256 FROM export_files WHERE entity = ?", (entity,)).fetchone()
        if stored and stored[0] == digest:
            continue
        changed = True
        header, rows = read(path)
        ensure_table(db, entity, header)
        keys = KEYS[entity]
        k = [header.index(c) for c in keys]
        existing = {}
        for r in db.execute(f'SELECT {", ".join(header)}, active FROM "{entity}"'):
            existing[tuple(r[i] for i in k)] = r
        seen, add, update = set(), [], []
        for r in rows:
            key = tuple(r[i] for i in k)
            seen.add(key)
            old = existing.get(key)
            if old is None:
                add.append(r + [run])
            elif list(old[:-1]) != r or not old[-1]:
                update.append(r + list(key))
        gone = [key for key, r in existing.items() if r[-1] and key not in seen]
        db.executemany(f'INSERT INTO "{entity}" ({", ".join(header)}, added_run) VALUES ({", ".join("?" * (len(header) + 1))})', add)
        sets = ", ".join(f"{c} = ?" for c in header)
        where = " AND ".join(f"{c} = ?" for c in keys)
        db.executemany(f'UPDATE "{entity}" SET {sets}, active = 1 WHERE {where}', update)
        db.executemany(f'UPDATE "{entity}" SET active = 0 WHERE {where}', gone)
        db.execute("INSERT OR REPLACE INTO export_files VALUES (?, ?)", (entity, digest))
    return changed


# A staff member is active when the export lists it and its status is not `inactive`.
ACTIVE_STAFF = "s.active = 1 AND lower(s.status) IN ('', 'active')"


def link_and_grant(db, run):
    staff, emails = {}, {}
    for staff_id, email, active in db.execute(f"SELECT staff_id, email, {ACTIVE_STAFF} FROM staff s"):
        emails[staff_id] = email.strip().lower()
        if active:
            staff.setdefault(emails[staff_id], []).append(staff_id)
    keys, links, unlinks = [], [], []
    current = dict(db.execute("SELECT username, staff_id FROM links"))
    for username, email, key in db.execute("SELECT username, email, email_key FROM users"):
        k = email.strip().lower()
        if key != k:
            keys.append((k, username))
        match = staff.get(k, [])
        have = current.get(username)
        # R6: one active staff member with the email links; a link to a staff member who
        # became inactive stays while the emails still match.
        want = match[0] if len(match) == 1 else have if not match and have is not None and emails.get(have) == k else None
        if want != have:
            if have is not None:
                unlinks.append((username,))
            if want is not None:
                links.append((username, want, "2026-08-01T00:00:00Z", "peer"))
    db.executemany("UPDATE users SET email_key = ? WHERE username = ?", keys)
    db.executemany("DELETE FROM links WHERE username = ?", unlinks)
    db.executemany("INSERT INTO links (username, staff_id, kind, created_at, created_by) VALUES (?, ?, 'auto', ?, ?)", links)
    # Admissions evaluators: the staff ids the active, not yet copied applicants name in
    # their `;` lists, split here.
    evaluators = set()
    for (ids,) in db.execute("SELECT evaluator_staff_ids FROM applicants WHERE active = 1 AND lower(status) <> 'copied'"):
        evaluators.update(i.strip() for i in ids.split(";") if i.strip())
    db.execute("CREATE TEMP TABLE IF NOT EXISTS evaluators (staff_id TEXT PRIMARY KEY) WITHOUT ROWID")
    db.execute("DELETE FROM temp.evaluators")
    db.executemany("INSERT INTO temp.evaluators VALUES (?)", ((i,) for i in evaluators))
    # The rules sisync's run applies (R7) for the bench's configuration: school year
    # 2026-2027, parent relationships Parent and Guardian. (One statement at a time:
    # executescript would commit the step's transaction first.)
    for statement in f"""
        CREATE TEMP TABLE IF NOT EXISTS desired (username TEXT COLLATE NOCASE, role TEXT, school_year TEXT,
          PRIMARY KEY (username, role, school_year)) WITHOUT ROWID;
        DELETE FROM temp.desired;
        INSERT OR IGNORE INTO temp.desired SELECT l.username, 'Staff', '' FROM links l JOIN staff s ON s.staff_id = l.staff_id WHERE {ACTIVE_STAFF};
        INSERT OR IGNORE INTO temp.desired SELECT a.username, 'Student', '' FROM user_attachments a JOIN students st ON st.student_id = a.record_id
          WHERE a.kind = 'student' AND st.active = 1 AND lower(st.enrollment_status) = 'enrolled' AND st.school_year = '2026-2027';
        INSERT OR IGNORE INTO temp.desired SELECT a.username, 'Parent', '' FROM user_attachments a
          JOIN household_relationships r ON r.household_id = a.record_id AND r.record_type = 'student' AND r.active = 1
          JOIN students st ON st.student_id = r.record_id
          WHERE a.kind = 'household' AND st.active = 1 AND lower(st.enrollment_status) = 'enrolled' AND st.school_year = '2026-2027'
            AND lower(r.relationship) IN ('parent', 'guardian');
        INSERT OR IGNORE INTO temp.desired SELECT a.username, 'Applicant', '' FROM user_attachments a
          JOIN household_relationships r ON r.household_id = a.record_id AND r.record_type = 'applicant' AND r.active = 1
          JOIN applicants ap ON ap.applicant_id = r.record_id
          WHERE a.kind = 'household' AND ap.active = 1 AND lower(ap.status) <> 'copied' AND lower(r.relationship) IN ('parent', 'guardian');
        INSERT OR IGNORE INTO temp.desired SELECT l.username, 'Admissions Evaluator', '' FROM links l
          JOIN staff s ON s.staff_id = l.staff_id JOIN temp.evaluators e ON e.staff_id = l.staff_id WHERE {ACTIVE_STAFF};
        INSERT OR IGNORE INTO temp.desired SELECT a.username, t.attribute, t.school_year FROM user_attachments a
          JOIN attributes t ON t.record_type = a.kind AND t.record_id = a.record_id WHERE t.active = 1;
    """.split(";\n"):
        db.execute(statement)
    db.execute("""DELETE FROM user_roles WHERE source = 'calculated' AND NOT EXISTS (SELECT 1 FROM temp.desired d
                  WHERE d.username = user_roles.username AND d.role = user_roles.role AND d.school_year = user_roles.school_year)""")
    db.execute("""INSERT OR IGNORE INTO user_roles (username, role, source, school_year, granted_run)
                  SELECT username, role, 'calculated', school_year, ? FROM temp.desired""", (run,))


def import_users(db, path):
    header, rows = read(path)
    u, e, a = header.index("username"), header.index("email"), header.index("approved")
    kinds = [(header.index(c + "_id"), c) for c in ("student", "household", "donor")]
    have = {name.lower() for (name,) in db.execute("SELECT username FROM users")}
    new = [r for r in rows if r[u].lower() not in have]
    db.executemany("INSERT INTO users (username, email, approved, created_at) VALUES (?, ?, ?, '2026-08-01T00:00:00Z')",
                   ((r[u], r[e], r[a] == "true") for r in new))
    db.executemany("INSERT OR IGNORE INTO user_attachments (username, kind, record_id) VALUES (?, ?, ?)",
                   ((r[u], kind, r[i]) for r in rows for i, kind in kinds if r[i]))


def main():
    step, database, source = sys.argv[1:4]
    started = time.monotonic()
    db = open_db(database)
    run = (db.execute("SELECT count(*) FROM export_files").fetchone()[0] > 0) + 1
    db.execute("BEGIN")
    if step == "records":
        apply_records(db, source, 1)
    elif step.endswith("user-import"):
        import_users(db, source)
    else:
        # Users change outside the export, so every run links, as sisync's do.
        apply_records(db, source, run)
        link_and_grant(db, run)
    db.execute("COMMIT")
    # Its peak RSS too (ru_maxrss is in KiB on Linux), for the bench's table.
    print(f"{step}\t{time.monotonic() - started:.3f}\t{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")


if __name__ == "__main__":
    main()

-- The SQLite schema at version 3, as sisync 0.1 and 0.2 made it (Schema.migrateToVersion1...3 at bf66fbb).
-- A database in the field: never edit (MigrationTests migrates it to the latest version).
CREATE TABLE runs (
  run_id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('running', 'applied', 'unchanged', 'blocked', 'failed')),
  error TEXT,
  actor TEXT NOT NULL,
  trigger TEXT NOT NULL DEFAULT 'schedule',
  content_hash TEXT,
  staff_added INTEGER NOT NULL DEFAULT 0,
  staff_updated INTEGER NOT NULL DEFAULT 0,
  staff_deactivated INTEGER NOT NULL DEFAULT 0,
  staff_reactivated INTEGER NOT NULL DEFAULT 0,
  links_made INTEGER NOT NULL DEFAULT 0,
  links_removed INTEGER NOT NULL DEFAULT 0,
  links_ambiguous INTEGER NOT NULL DEFAULT 0,
  roles_granted INTEGER NOT NULL DEFAULT 0,
  roles_revoked INTEGER NOT NULL DEFAULT 0,
  records_changed INTEGER NOT NULL DEFAULT 0,
  entity_counts TEXT NOT NULL DEFAULT '{}',
  problems TEXT NOT NULL DEFAULT '[]',
  reverts INTEGER REFERENCES runs(run_id)
);
CREATE TABLE source_state (
  url TEXT PRIMARY KEY,
  etag TEXT,
  last_modified TEXT,
  sha256 TEXT,
  run_id INTEGER REFERENCES runs(run_id)
);
CREATE TABLE users (
  username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
  email TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name TEXT NOT NULL DEFAULT '',
  approved INTEGER NOT NULL DEFAULT 0,
  locked INTEGER NOT NULL DEFAULT 0,
  failed_logins INTEGER NOT NULL DEFAULT 0,
  password_hash TEXT,
  created_at TEXT NOT NULL
, email_key TEXT);
CREATE TABLE links (
  username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE REFERENCES users(username),
  staff_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('auto', 'manual')),
  reason TEXT,
  until TEXT,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX links_by_staff ON links (staff_id);
CREATE TABLE staff (
  staff_id TEXT NOT NULL,
  first_name TEXT NOT NULL DEFAULT '',
  last_name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL DEFAULT '',
  school_ids TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 1,
  deactivated_at TEXT,
  missing_since TEXT,
  added_run INTEGER NOT NULL,
  updated_run INTEGER NOT NULL,
  fingerprint INTEGER NOT NULL,
  PRIMARY KEY (staff_id)
) WITHOUT ROWID;
CREATE INDEX staff_missing ON staff (missing_since) WHERE missing_since IS NOT NULL;
CREATE TABLE students (
  student_id TEXT NOT NULL,
  first_name TEXT NOT NULL DEFAULT '',
  last_name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  school_id TEXT NOT NULL DEFAULT '',
  grade TEXT NOT NULL DEFAULT '',
  enrollment_status TEXT NOT NULL DEFAULT '',
  school_year TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 1,
  deactivated_at TEXT,
  missing_since TEXT,
  added_run INTEGER NOT NULL,
  updated_run INTEGER NOT NULL,
  fingerprint INTEGER NOT NULL,
  PRIMARY KEY (student_id)
) WITHOUT ROWID;
CREATE INDEX students_missing ON students (missing_since) WHERE missing_since IS NOT NULL;
CREATE TABLE households (
  household_id TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 1,
  deactivated_at TEXT,
  missing_since TEXT,
  added_run INTEGER NOT NULL,
  updated_run INTEGER NOT NULL,
  fingerprint INTEGER NOT NULL,
  PRIMARY KEY (household_id)
) WITHOUT ROWID;
CREATE INDEX households_missing ON households (missing_since) WHERE missing_since IS NOT NULL;
CREATE TABLE household_relationships (
  household_id TEXT NOT NULL,
  record_type TEXT NOT NULL,
  record_id TEXT NOT NULL,
  relationship TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 1,
  deactivated_at TEXT,
  missing_since TEXT,
  added_run INTEGER NOT NULL,
  updated_run INTEGER NOT NULL,
  fingerprint INTEGER NOT NULL,
  PRIMARY KEY (household_id, record_type, record_id)
) WITHOUT ROWID;
CREATE INDEX household_relationships_missing ON household_relationships (missing_since) WHERE missing_since IS NOT NULL;
CREATE TABLE applicants (
  applicant_id TEXT NOT NULL,
  first_name TEXT NOT NULL DEFAULT '',
  last_name TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT '',
  evaluator_staff_ids TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 1,
  deactivated_at TEXT,
  missing_since TEXT,
  added_run INTEGER NOT NULL,
  updated_run INTEGER NOT NULL,
  fingerprint INTEGER NOT NULL,
  PRIMARY KEY (applicant_id)
) WITHOUT ROWID;
CREATE INDEX applicants_missing ON applicants (missing_since) WHERE missing_since IS NOT NULL;
CREATE TABLE donors (
  donor_id TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 1,
  deactivated_at TEXT,
  missing_since TEXT,
  added_run INTEGER NOT NULL,
  updated_run INTEGER NOT NULL,
  fingerprint INTEGER NOT NULL,
  PRIMARY KEY (donor_id)
) WITHOUT ROWID;
CREATE INDEX donors_missing ON donors (missing_since) WHERE missing_since IS NOT NULL;
CREATE TABLE attributes (
  record_type TEXT NOT NULL,
  record_id TEXT NOT NULL,
  attribute TEXT NOT NULL,
  school_year TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  deactivated_at TEXT,
  missing_since TEXT,
  added_run INTEGER NOT NULL,
  updated_run INTEGER NOT NULL,
  fingerprint INTEGER NOT NULL,
  PRIMARY KEY (record_type, record_id, attribute, school_year)
) WITHOUT ROWID;
CREATE INDEX attributes_missing ON attributes (missing_since) WHERE missing_since IS NOT NULL;
CREATE INDEX staff_by_email ON staff (email COLLATE NOCASE);
CREATE TABLE "changes" (
  change_id INTEGER PRIMARY KEY,
  run_id INTEGER REFERENCES runs(run_id),
  entity TEXT NOT NULL,
  record_id TEXT NOT NULL,
  field TEXT,
  old_value TEXT,
  new_value TEXT,
  kind TEXT NOT NULL,
  actor TEXT,
  at TEXT
);
CREATE INDEX changes_by_record ON changes (entity, record_id);
CREATE INDEX changes_by_run ON changes (run_id);
CREATE TABLE user_attachments (
  username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('student', 'household', 'donor')),
  record_id TEXT NOT NULL,
  PRIMARY KEY (username, kind, record_id)
) WITHOUT ROWID;
CREATE INDEX user_attachments_by_record ON user_attachments (kind, record_id);
CREATE TABLE user_roles (
  username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username) ON DELETE CASCADE,
  role TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('manual', 'calculated')),
  school_year TEXT NOT NULL DEFAULT '', granted_run INTEGER,
  PRIMARY KEY (username, source, role, school_year)
) WITHOUT ROWID;
CREATE TABLE user_schools (
  username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username) ON DELETE CASCADE,
  school_id TEXT NOT NULL,
  PRIMARY KEY (username, school_id)
) WITHOUT ROWID;
CREATE TABLE user_ledgers (
  username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username) ON DELETE CASCADE,
  ledger TEXT NOT NULL,
  PRIMARY KEY (username, ledger)
) WITHOUT ROWID;
CREATE TABLE role_basis (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  school_year TEXT NOT NULL,
  parent_relationships TEXT NOT NULL,
  rules_version INTEGER NOT NULL,
  last_change_id INTEGER NOT NULL
);
CREATE INDEX users_by_email_key ON users (email_key);
CREATE TABLE email_key_basis (id INTEGER PRIMARY KEY CHECK (id = 1), aliases TEXT NOT NULL);
CREATE TABLE export_files (entity TEXT PRIMARY KEY, sha256 TEXT NOT NULL, run_id INTEGER NOT NULL);
CREATE VIEW change_log (run_id, entity, record_id, field, old_value, new_value, kind) AS
  SELECT run_id, entity, record_id, field, old_value, new_value, kind FROM changes
  UNION ALL SELECT added_run, 'staff', staff_id, NULL, NULL, NULL, 'added' FROM staff
  UNION ALL SELECT added_run, 'students', student_id, NULL, NULL, NULL, 'added' FROM students
  UNION ALL SELECT added_run, 'households', household_id, NULL, NULL, NULL, 'added' FROM households
  UNION ALL SELECT added_run, 'household_relationships', household_id || '/' || record_type || '/' || record_id, NULL, NULL, NULL, 'added' FROM household_relationships
  UNION ALL SELECT added_run, 'applicants', applicant_id, NULL, NULL, NULL, 'added' FROM applicants
  UNION ALL SELECT added_run, 'donors', donor_id, NULL, NULL, NULL, 'added' FROM donors
  UNION ALL SELECT added_run, 'attributes', record_type || '/' || record_id || '/' || attribute || '/' || school_year, NULL, NULL, NULL, 'added' FROM attributes
  UNION ALL SELECT granted_run, 'users', r.username, 'role', NULL, CASE WHEN r.school_year = '' THEN r.role ELSE r.role || ' (' || r.school_year || ')' END, 'role_granted' FROM user_roles r WHERE granted_run IS NOT NULL;

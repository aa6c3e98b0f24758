#!/usr/bin/env python3
"""A OneRoster 1.1 CSV bundle the size of the synthetic district, to measure
`format = oneroster-csv` (issue 34):

    oneroster-bundle.py SCALE DIRECTORY [--uuid-ids] [--v1p2]

writes manifest.csv, orgs, academicSessions, classes, users (20,000 teachers, 300,000
students and 250,000 parents at scale 1, each parent naming its students and each student
its parent in agentSourcedIds) and enrollments (three classes a student) into DIRECTORY.
With --uuid-ids the users' sourcedIds are 36-character UUIDs, as many SIS servers send them
(the same UUIDs on every run: made from the short ids). With --v1p2 the bundle is OneRoster
1.2: users.csv without its role column, and each user's role a row of roles.csv."""
import csv, os, sys, uuid
scale = float(sys.argv[1]); out = sys.argv[2]; os.makedirs(out, exist_ok=True)
long_ids = "--uuid-ids" in sys.argv[3:]
v12 = "--v1p2" in sys.argv[3:]
def uid(short):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sisync-bench:" + short)) if long_ids else short
T, S, P = int(20000*scale), int(300000*scale), int(250000*scale)
schools = [str(100+i) for i in range(20)]
nclass = int(4000*scale)
def w(name, header, rows):
    with open(os.path.join(out, name), "w", newline="") as f:
        c = csv.writer(f); c.writerow(header); c.writerows(rows)
open(os.path.join(out,"manifest.csv"),"w").write("propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.academicSessions,bulk\nfile.categories,absent\nfile.classes,bulk\nfile.courses,absent\nfile.demographics,absent\nfile.enrollments,bulk\nfile.orgs,bulk\nfile.users,bulk\nsource.systemName,bench\n")
w("academicSessions.csv", "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear".split(","),
  [["sy2026","active","2025-08-01","2025-2026","schoolYear","2025-07-01","2026-06-30","","2026"],["sy2027","active","2026-08-01","2026-2027","schoolYear","2026-07-01","2027-06-30","","2027"]])
w("orgs.csv", "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId".split(","),
  [["district","active","2026-08-01","District","district","",""]] + [[s,"active","2026-08-01","School "+s,"school",s,"district"] for s in schools])
w("classes.csv", "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods".split(","),
  ([f"c{i}","active","2026-08-01",f"Class {i}","05",f"crs{i}",f"C{i}","scheduled","Room","%s" % schools[i%20],"sy2027","Math","","1"] for i in range(nclass)))
def users():
    for i in range(T):
        yield [uid(f"t{i}"),"active","2026-08-01","true",schools[i%20],"teacher",f"teacher{i}","","Zoë","O'Brien","",f"T{i}",f"teacher{i}@district.example.org","","","","",""]
    for i in range(S):
        yield [uid(f"s{i}"),"active","2026-08-01","true",schools[i%20],"student",f"student{i}","","Ava","Brown","",f"S{i}",f"st{i}@students.example.org","","",uid(f"p{i%P}"),"05",""]
    for i in range(P):
        kids = ",".join(uid(f"s{j}") for j in range(i, S, P))
        yield [uid(f"p{i}"),"active","2026-08-01","true",schools[i%20],"parent",f"parent{i}","","Karen","Brown","",f"P{i}",f"parent{i}@home.example.org","","",kids,"",""]
w("users.csv", "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password".split(","), users())
def enr():
    for i in range(T):
        yield [f"et{i}","active","2026-08-01",f"c{i%nclass}",schools[(i%nclass)%20],uid(f"t{i}"),"teacher","true","2026-08-20",""]
    for i in range(S):
        for k in range(3):
            c = (i*3+k) % nclass
            yield [f"es{i}_{k}","active","2026-08-01",f"c{c}",schools[c%20],uid(f"s{i}"),"student","false","2026-08-20",""]
w("enrollments.csv", "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate".split(","), enr())
if v12:
    # The 1.1 users.csv, rewritten as 1.2's users.csv and roles.csv.
    path = os.path.join(out, "users.csv")
    os.replace(path, path + ".1p1")
    with open(path + ".1p1", newline="") as fi, open(path, "w", newline="") as fu, open(os.path.join(out, "roles.csv"), "w", newline="") as fr:
        u, ro = csv.writer(fu), csv.writer(fr)
        u.writerow("sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns".split(","))
        ro.writerow("sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId".split(","))
        for i, r in enumerate(csv.DictReader(fi)):
            u.writerow([r["sourcedId"], r["status"], r["dateLastModified"], r["enabledUser"], r["username"], "", r["givenName"], r["familyName"], "",
                        r["identifier"], r["email"], "", "", r["agentSourcedIds"], r["grades"], "", "", "", "", "", r["orgSourcedIds"], ""])
            ro.writerow([f"r{i}", "active", "2026-08-01", r["sourcedId"], "primary", r["role"], "2026-08-01", "", r["orgSourcedIds"], ""])
    os.remove(path + ".1p1")
    manifest = open(os.path.join(out, "manifest.csv")).read()
    manifest = manifest.replace("oneroster.version,1.1", "oneroster.version,1.2").replace("file.users,bulk\n", "file.users,bulk\nfile.roles,bulk\n")
    open(os.path.join(out, "manifest.csv"), "w").write(manifest)

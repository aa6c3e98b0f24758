#!/usr/bin/env python3
"""Serves a OneRoster 1.1 CSV bundle (such as oneroster-bundle.py writes) as a OneRoster REST
API on 127.0.0.1, for measuring `format = oneroster-rest` (`auth = none`):

    contrib/bench/oneroster-rest-server.py BUNDLE_DIR PORT

Collections: /ims/oneroster/v1p1/{orgs,academicSessions,classes,users,enrollments}, paged
with `limit` and `offset`, each page with `X-Total-Count`. Each collection's rows are read
once, at the first request for it, and kept as CSV rows; a page is made into JSON when asked.
"""
import csv, json, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

bundle, port = sys.argv[1], int(sys.argv[2])
files = {"orgs": "orgs.csv", "academicSessions": "academicSessions.csv", "classes": "classes.csv",
         "users": "users.csv", "enrollments": "enrollments.csv"}
tables, lock = {}, threading.Lock()

def rows(name):
    with lock:
        if name not in tables:
            with open(f"{bundle}/{files[name]}", newline="", encoding="utf-8") as f:
                tables[name] = list(csv.DictReader(f))
        return tables[name]

def ref(i, kind="x"):
    return {"href": "", "sourcedId": i, "type": kind}

def refs(text, kind):
    return [ref(x.strip(), kind) for x in text.split(",") if x.strip()]

def item(name, r):
    o = {"sourcedId": r["sourcedId"], "status": r["status"] or "active", "dateLastModified": r["dateLastModified"]}
    if name == "orgs":
        o.update(name=r["name"], type=r["type"])
    elif name == "academicSessions":
        o.update(title=r["title"], type=r["type"], startDate=r["startDate"], endDate=r["endDate"], schoolYear=r["schoolYear"])
    elif name == "classes":
        o.update(title=r["title"], school=ref(r["schoolSourcedId"], "org"), terms=refs(r["termSourcedIds"], "academicSession"))
    elif name == "users":
        o.update(enabledUser=r["enabledUser"], orgs=refs(r["orgSourcedIds"], "org"), role=r["role"], username=r["username"],
                 givenName=r["givenName"], familyName=r["familyName"], email=r["email"],
                 agents=refs(r["agentSourcedIds"], "user"), grades=[g for g in r["grades"].split(",") if g])
    elif name == "enrollments":
        o.update(**{"class": ref(r["classSourcedId"], "class"), "school": ref(r["schoolSourcedId"], "org"),
                    "user": ref(r["userSourcedId"], "user"), "role": r["role"], "beginDate": r["beginDate"], "endDate": r["endDate"]})
    return o

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        u = urlparse(self.path)
        name = u.path.rsplit("/", 1)[-1]
        if name not in files:
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        q = parse_qs(u.query)
        limit, offset = int(q.get("limit", ["100"])[0]), int(q.get("offset", ["0"])[0])
        all_rows = rows(name)
        body = json.dumps({name: [item(name, r) for r in all_rows[offset:offset + limit]]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Total-Count", str(len(all_rows)))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()

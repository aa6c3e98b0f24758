-- wrk script: POST /v1/logins with the right password of the bench store's user
-- `bench-login` (an accepted login without failures writes nothing: it measures the hash).
-- Environment: SISYNC_TOKEN (the token), SISYNC_PASSWORD (the password).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("SISYNC_TOKEN")
  wrk.body = string.format('{"username": "bench-login", "password": "%s"}', os.getenv("SISYNC_PASSWORD"))
end
-- wrk counts answers other than 2xx (a 503 when every hashing slot is busy) itself.

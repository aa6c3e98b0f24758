-- wrk script: a provider's full reconciliation (issue 32): every user of the bench store
-- (user000001 … userNNNNNN) looked up once by GET /scim/v2/Users?filter=userName eq "…".
-- One wrk thread (-t1, any number of connections) asks each number once; when the last one
-- is answered it prints what it saw and ends wrk (os.exit), so the caller times the run
-- from outside (wrk would otherwise wait out -d). A reply that is not 200 with exactly that
-- user counts as wrong.
-- Environment: SISYNC_TOKEN, SISYNC_USERS (default 207000).
local token = os.getenv("SISYNC_TOKEN")
local users = tonumber(os.getenv("SISYNC_USERS") or "207000")
local path = '/scim/v2/Users?filter=userName%%20eq%%20%%22user%06d%%22'
local nextNumber = 1
local answered = 0
local wrong = 0

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  local n = nextNumber
  nextNumber = nextNumber + 1
  -- Connections still open once every number was asked repeat the last one (not counted).
  if n > users then n = users end
  return wrk.format("GET", string.format(path, n))
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 or not string.find(body, '"totalResults":1,', 1, true) then wrong = wrong + 1 end
  if answered == users then
    io.write(string.format("reconciliation: %d users asked for and answered, %d answers not exactly that user\n", users, wrong))
    io.flush()
    os.exit(0)
  end
end

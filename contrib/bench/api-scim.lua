-- wrk script: GET /scim/v2/Users?filter=userName eq "u", the username rotating over the bench
-- store's users (user000001 … userNNNNNN): what an identity provider's reconciliation asks
-- once per user (issue 32). Environment: SISYNC_TOKEN (a client with the scope scim),
-- SISYNC_USERS (how many users; default 207000).
local token = os.getenv("SISYNC_TOKEN")
local users = tonumber(os.getenv("SISYNC_USERS") or "207000")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  math.randomseed(id * 7919)
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  return wrk.format("GET", string.format("/scim/v2/Users?filter=userName%%20eq%%20%%22user%06d%%22", math.random(users)))
end

-- wrk script: GET /v1/users/{u}, the username rotating over the bench store's users
-- (user000001 … userNNNNNN), with the API client's bearer token.
-- Environment: SISYNC_TOKEN (the token), SISYNC_USERS (how many users; default 207000),
-- SISYNC_PATH (the request's path with %06d for the user's number; default the API's
-- /v1/users/user%06d; api-wrk.sh gives SCIM's /scim/v2/Users?filter=userName eq "…").
local token = os.getenv("SISYNC_TOKEN")
local path = os.getenv("SISYNC_PATH") or "/v1/users/user%06d"
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
  return wrk.format("GET", string.format(path, math.random(users)))
end

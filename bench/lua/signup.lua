-- wrk: POST the real sign-up form, a new address and a new client address every time.
-- TOKEN, COOKIE and RUN come from the environment (bench/signup.py fetched the form first).
local token = os.getenv("TOKEN")
local cookie = os.getenv("COOKIE")
local run = os.getenv("RUN")
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  n = 0
end

function request()
  n = n + 1
  local body = "email=w" .. run .. "-" .. tid .. "-" .. n .. "%40example.test"
    .. "&first_name=Sam&timezone=UTC&website=&csrf_token=" .. token
  -- each request from its own address, as after a popular post (TRUSTED_PROXIES=1)
  local ip = (10 + run) .. "." .. tid .. "." .. (math.floor(n / 250) % 250) .. "." .. (n % 250)
  return wrk.format("POST", "/", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = cookie,
    ["X-Forwarded-For"] = ip,
  }, body)
end

dofile(os.getenv("LUA_DIR") .. "/report.lua")

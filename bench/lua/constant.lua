-- wrk: the constant-response endpoint, as it is; the summary line comes from report.lua.
dofile(os.getenv("LUA_DIR") .. "/report.lua")

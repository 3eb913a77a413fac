-- The tinychat daemon: one process per Neovim, JSON-RPC 2.0 over its stdio
-- with LSP Content-Length framing.
--
-- The framing is our own on top of vim.fn.jobstart rather than
-- vim.lsp.rpc: that client swallows -32800 (request cancelled) replies,
-- whose data carries the partial reply, and its signature changed in 0.10.
-- Job callbacks run on the main loop, so handlers may use vim.api freely.
local M = {}

-- CANCELLED is the daemon's answer to a cancelled request; its data holds
-- the partial reply.
M.CANCELLED = -32800
-- Error codes of our own, for requests the daemon never answered.
M.EXITED = -32097
M.NOT_STARTED = -32098

local state = {
  job = nil, -- job id of the running daemon
  pid = nil,
  ready = false, -- initialize answered
  stopping = false, -- the exit is ours: do not warn about it
  buf = "", -- unparsed stdout
  pending = {}, -- id -> callback(err, result)
  queue = {}, -- messages written once initialize is answered
  stderr = {}, -- last lines of stderr, for the exit message
  exit_waiters = {},
}
local next_id = 0
local handlers = {} -- method -> list of function(params)
local request_handlers = {} -- method -> function(params, respond)

-- server is the initialize result of the running daemon (serverInfo,
-- capabilities), or nil.
M.server = nil
-- log holds the daemon's window/logMessage notifications, newest last.
M.log = {}
-- workspace is the running daemon's workspace: Neovim's working directory
-- when it started. nil when none runs.
M.workspace = nil

local function is_nil(v)
  return v == nil or v == vim.NIL
end
M.is_nil = is_nil

local function write(msg)
  local body = vim.json.encode(msg)
  vim.fn.chansend(state.job, "Content-Length: " .. #body .. "\r\n\r\n" .. body)
end

-- Params must be a JSON object: vim.json.encode({}) would give [].
local function object(params)
  if params == nil or (type(params) == "table" and next(params) == nil) then
    return vim.empty_dict()
  end
  return params
end

-- answer_request runs the handler of a request from the daemon (such as
-- chat/requestPermission). The handler gets respond(result, err), which it
-- may call later, once the user has answered: the reply goes to the daemon
-- that asked, if it still runs, and only once.
local function answer_request(msg)
  local job, answered = state.job, false
  local function respond(result, err)
    if answered then
      return
    end
    answered = true
    if state.job ~= job then
      return -- that daemon has gone: nobody waits for the answer
    end
    local reply = { jsonrpc = "2.0", id = msg.id }
    if err then
      reply.error = err
    else
      reply.result = result == nil and vim.NIL or result
    end
    pcall(write, reply)
  end
  local fn = request_handlers[msg.method]
  if not fn then
    respond(nil, { code = -32601, message = "method not found: " .. msg.method })
    return
  end
  local ok, err = pcall(fn, msg.params, respond)
  if not ok then
    respond(nil, { code = -32603, message = tostring(err) })
    vim.notify("tinychat: " .. msg.method .. " handler failed: " .. tostring(err), vim.log.levels.ERROR)
  end
end

local function dispatch(msg)
  if msg.method ~= nil then
    if not is_nil(msg.id) then
      answer_request(msg)
      return
    end
    if msg.method == "window/logMessage" and type(msg.params) == "table" then
      table.insert(M.log, msg.params)
      if #M.log > 200 then
        table.remove(M.log, 1)
      end
    end
    for _, fn in ipairs(handlers[msg.method] or {}) do
      local ok, err = pcall(fn, msg.params)
      if not ok then
        vim.notify("tinychat: " .. msg.method .. " handler failed: " .. tostring(err), vim.log.levels.ERROR)
      end
    end
    return
  end
  local cb = state.pending[msg.id]
  if cb == nil then
    return
  end
  state.pending[msg.id] = nil
  local ok, err
  if not is_nil(msg.error) then
    ok, err = pcall(cb, msg.error, nil)
  else
    ok, err = pcall(cb, nil, msg.result)
  end
  if not ok then
    vim.notify("tinychat: callback failed: " .. tostring(err), vim.log.levels.ERROR)
  end
end

local function on_stdout(job, data)
  if job ~= state.job then
    return
  end
  -- jobstart splits the bytes on "\n"; joining each chunk back restores them.
  state.buf = state.buf .. table.concat(data, "\n")
  while true do
    local hend = state.buf:find("\r\n\r\n", 1, true)
    if not hend then
      return
    end
    local len = tonumber(state.buf:sub(1, hend):match("[Cc]ontent%-[Ll]ength: *(%d+)"))
    if len == nil then
      -- Not a header we understand: drop it and resynchronise.
      state.buf = state.buf:sub(hend + 4)
    else
      if #state.buf < hend + 3 + len then
        return
      end
      local body = state.buf:sub(hend + 4, hend + 3 + len)
      state.buf = state.buf:sub(hend + 4 + len)
      local ok, msg = pcall(vim.json.decode, body)
      if ok and type(msg) == "table" then
        dispatch(msg)
      end
    end
  end
end

local function on_stderr(job, data)
  if job ~= state.job then
    return
  end
  for _, line in ipairs(data) do
    if line ~= "" then
      table.insert(state.stderr, line)
      if #state.stderr > 20 then
        table.remove(state.stderr, 1)
      end
    end
  end
end

local function fail_all(err)
  local pending = state.pending
  state.pending, state.queue = {}, {}
  local ids = vim.tbl_keys(pending)
  table.sort(ids)
  for _, id in ipairs(ids) do
    pcall(pending[id], err, nil)
  end
end

local function on_exit(job, code)
  if job ~= state.job then
    return
  end
  local expected = state.stopping
  -- The last line of stderr that is not routine logging says why.
  local tail
  for i = #state.stderr, 1, -1 do
    if not state.stderr[i]:match("level=INFO") and not state.stderr[i]:match("level=DEBUG") then
      tail = state.stderr[i]
      break
    end
  end
  state.job, state.pid, state.ready, state.stopping, state.buf = nil, nil, false, false, ""
  M.server, M.workspace = nil, nil
  fail_all({ code = M.EXITED, message = "the tinychat daemon exited (code " .. code .. ")" })
  if not expected then
    local msg = "tinychat: the daemon exited (code " .. code .. ")"
    if tail then
      msg = msg .. ": " .. tail
    end
    vim.notify(msg .. "; the next command starts a new one", vim.log.levels.WARN)
  end
  local waiters = state.exit_waiters
  state.exit_waiters = {}
  for _, fn in ipairs(waiters) do
    pcall(fn, code)
  end
end

local function leave()
  M.stop({ wait = 2000 })
end

local function init_params()
  local config = require("tinychat").config
  local cwd = vim.fn.getcwd()
  local root = vim.uri_from_fname(cwd)
  local opts = {}
  for _, k in ipairs({ "provider", "model", "system" }) do
    if config[k] ~= nil then
      opts[k] = config[k]
    end
  end
  -- The plugin answers chat/requestPermission (tinychat.tools): the user
  -- decides on each tool call the daemon's policy leaves to them.
  opts.permissions = true
  local v = vim.version()
  return {
    processId = vim.fn.getpid(),
    clientInfo = { name = "tinychat.nvim", version = string.format("nvim %d.%d.%d", v.major, v.minor, v.patch) },
    rootUri = root,
    workspaceFolders = { { uri = root, name = vim.fn.fnamemodify(cwd, ":t") } },
    capabilities = vim.empty_dict(),
    initializationOptions = opts,
  }
end

-- start launches the daemon unless it runs. It returns true, or false and
-- a message saying why it could not.
function M.start()
  if state.job then
    return true
  end
  -- The handlers of the daemon's requests, which initialize declares.
  require("tinychat.tools")
  local cmd = require("tinychat").config.cmd
  local ok, job = pcall(vim.fn.jobstart, cmd, {
    on_stdout = on_stdout,
    on_stderr = on_stderr,
    on_exit = on_exit,
  })
  if not ok or job <= 0 then
    local why = ok and ("jobstart returned " .. job) or tostring(job)
    return false, "tinychat: cannot start the daemon " .. table.concat(cmd, " ") .. ": " .. why
  end
  state.job, state.ready, state.stopping, state.buf, state.stderr = job, false, false, "", {}
  state.pid = vim.fn.jobpid(job)
  M.workspace = vim.fn.getcwd()
  next_id = next_id + 1
  local id = next_id
  state.pending[id] = function(err, result)
    if err then
      vim.notify("tinychat: initialize failed: " .. tostring(err.message), vim.log.levels.ERROR)
      M.stop()
      return
    end
    M.server = result
    state.ready = true
    write({ jsonrpc = "2.0", method = "initialized", params = vim.empty_dict() })
    local queue = state.queue
    state.queue = {}
    for _, msg in ipairs(queue) do
      write(msg)
    end
  end
  write({ jsonrpc = "2.0", id = id, method = "initialize", params = init_params() })
  local group = vim.api.nvim_create_augroup("tinychat_rpc", { clear = true })
  vim.api.nvim_create_autocmd("VimLeavePre", { group = group, callback = leave })
  return true
end

local function send(msg)
  if state.ready then
    write(msg)
  else
    table.insert(state.queue, msg)
  end
end

-- request sends method with params, starting the daemon if need be, and
-- calls cb(err, result) on the main loop when the answer comes: err is the
-- JSON-RPC error object ({code, message, data}) or nil. It returns the
-- request id, or nil when the daemon could not start (cb has then been
-- called with an error).
function M.request(method, params, cb)
  local ok, why = M.start()
  if not ok then
    vim.notify(why, vim.log.levels.ERROR)
    cb({ code = M.NOT_STARTED, message = why }, nil)
    return nil
  end
  next_id = next_id + 1
  local id = next_id
  state.pending[id] = cb
  send({ jsonrpc = "2.0", id = id, method = method, params = object(params) })
  return id
end

-- notify sends a notification if the daemon runs (there is nobody to tell
-- otherwise).
function M.notify(method, params)
  if state.job then
    send({ jsonrpc = "2.0", method = method, params = object(params) })
  end
end

-- on calls fn(params) for every notification named method.
function M.on(method, fn)
  handlers[method] = handlers[method] or {}
  table.insert(handlers[method], fn)
end

-- on_request makes fn(params, respond) answer the daemon's requests named
-- method (one handler per method; a later one replaces it). fn must call
-- respond(result) or respond(nil, {code, message}) once, now or later; it
-- must not wait for the user itself.
function M.on_request(method, fn)
  request_handlers[method] = fn
end

function M.running()
  return state.job ~= nil
end

-- pid is the daemon's process id, or nil when it does not run.
function M.pid()
  return state.pid
end

-- on_exit calls fn(code) once, when the running daemon exits.
function M.on_exit(fn)
  table.insert(state.exit_waiters, fn)
end

-- stop asks the daemon to finish (shutdown, then exit), which saves any
-- reply in progress as interrupted. With opts.wait (milliseconds) it blocks
-- until the daemon has gone, as on VimLeavePre; the job is killed if it
-- takes longer.
function M.stop(opts)
  opts = opts or {}
  local job = state.job
  if not job then
    return
  end
  state.stopping = true
  if not state.ready then
    vim.fn.jobstop(job)
  else
    next_id = next_id + 1
    state.pending[next_id] = function()
      if state.job == job then
        write({ jsonrpc = "2.0", method = "exit", params = vim.empty_dict() })
        vim.fn.chanclose(job, "stdin")
      end
    end
    write({ jsonrpc = "2.0", id = next_id, method = "shutdown", params = vim.empty_dict() })
  end
  if opts.wait then
    if vim.fn.jobwait({ job }, opts.wait)[1] == -1 then
      vim.fn.jobstop(job)
    end
  end
end

return M

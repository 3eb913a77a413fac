-- A small test harness for headless Neovim (plenary and mini.test are not
-- available offline): named tests run in order, each in pcall; results go
-- to stdout one line per test, then "N passed, N failed".
local H = {}

local tests = {}

function H.test(name, fn)
  table.insert(tests, { name = name, fn = fn })
end

local function out(s)
  io.stdout:write(s .. "\n")
  io.stdout:flush()
end

-- run runs every test and quits Neovim: 0 when all passed, else 1.
function H.run()
  local passed, failed = 0, 0
  for i, t in ipairs(tests) do
    local start = vim.loop.hrtime()
    local ok, err = xpcall(t.fn, debug.traceback)
    local ms = math.floor((vim.loop.hrtime() - start) / 1e6)
    if ok then
      passed = passed + 1
      out(string.format("ok %d - %s (%d ms)", i, t.name, ms))
    else
      failed = failed + 1
      out(string.format("not ok %d - %s (%d ms)", i, t.name, ms))
      for line in tostring(err):gmatch("[^\n]+") do
        out("#   " .. line)
      end
    end
  end
  out(string.format("%d passed, %d failed", passed, failed))
  vim.cmd(failed == 0 and "qa!" or "cquit 1")
end

local function show(v)
  return type(v) == "string" and string.format("%q", v) or vim.inspect(v)
end

-- first_difference describes where two multi-line strings part.
local function first_difference(want, got)
  local w = vim.split(want, "\n", { plain = true })
  local g = vim.split(got, "\n", { plain = true })
  for i = 1, math.max(#w, #g) do
    if w[i] ~= g[i] then
      return string.format("first difference at line %d:\n want %s\n  got %s", i, show(w[i]), show(g[i]))
    end
  end
end

function H.eq(want, got, what)
  if type(want) == "string" and type(got) == "string" and want ~= got and (want .. got):find("\n") then
    error(string.format("%s: %s", what or "strings differ", first_difference(want, got)), 2)
  end
  if not vim.deep_equal(want, got) then
    error(string.format("%s:\n want %s\n  got %s", what or "values differ", show(want), show(got)), 2)
  end
end

function H.truthy(v, what)
  if not v then
    error((what or "expected a true value") .. ", got " .. show(v), 2)
  end
  return v
end

-- wait pumps the event loop until cond() is true, failing after ms.
function H.wait(cond, what, ms)
  if not vim.wait(ms or 5000, cond, 5) then
    error("timed out waiting for " .. what, 2)
  end
end

-- call makes a request to the plugin's daemon and waits for the answer.
function H.call(method, params)
  local rpc = require("tinychat.rpc")
  local done, err, result = false, nil, nil
  rpc.request(method, params, function(e, r)
    done, err, result = true, e, r
  end)
  H.wait(function()
    return done
  end, method .. " answer")
  if err then
    error(method .. " failed: " .. vim.inspect(err), 2)
  end
  return result
end

function H.chat_lines()
  local buf = H.truthy(require("tinychat.chat").bufnr(), "a chat buffer")
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

function H.chat_text()
  return table.concat(H.chat_lines(), "\n")
end

-- last_reply is the text of the last "## Assistant" section (up to the
-- next "## You" heading or the end), trimmed.
function H.last_reply()
  local lines = H.chat_lines()
  local start
  for i = #lines, 1, -1 do
    if lines[i] == "## Assistant" then
      start = i
      break
    end
  end
  H.truthy(start, "an ## Assistant heading in the chat buffer")
  local body = {}
  for i = start + 1, #lines do
    if lines[i] == "## You" then
      break
    end
    table.insert(body, lines[i])
  end
  return vim.trim(table.concat(body, "\n"))
end

-- wait_idle waits until no reply is streaming and no command waits.
function H.wait_idle(ms)
  local chat = require("tinychat.chat")
  H.wait(function()
    return not chat.streaming() and (chat.pending == nil or chat.pending() == 0)
  end, "the reply to end", ms)
end

-- without_draft is the chat buffer without its trailing draft section
-- ("", "## You", "", ""): what the markdown export holds.
function H.without_draft(lines)
  local n = #lines
  H.eq({ "", "## You", "", "" }, { lines[n - 3], lines[n - 2], lines[n - 1], lines[n] }, "the draft section")
  return vim.list_slice(lines, 1, n - 4)
end

function H.read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

function H.write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- messages returns the stored messages of session id.
function H.messages(id)
  return H.call("session/get", { sessionId = id }).messages
end

return H

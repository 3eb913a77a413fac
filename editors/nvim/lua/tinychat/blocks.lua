-- Code blocks of the chat buffer: jump between them, yank one, apply one
-- to the file it came from (the file whose lines went with the question
-- as context), the change shown in a diff against the file as it was.
local M = {}

local api = vim.api

local function notify(msg, level)
  vim.notify(msg, level or vim.log.levels.INFO)
end

-- list gives buf's fenced code blocks, in order: {start, stop, info}, the
-- 1-based lines of the opening and closing fences and the opening's info
-- string (the language). A block left open runs to the end.
function M.list(buf)
  local lines = api.nvim_buf_get_lines(buf, 0, -1, false)
  local out, open = {}, nil
  for i, line in ipairs(lines) do
    if open then
      local f = line:match("^%s*(" .. open.ch .. "+)%s*$")
      if f and #f >= open.len then
        open.stop = i
        table.insert(out, open)
        open = nil
      end
    else
      local f, info = line:match("^%s*(```+)%s*(.-)%s*$")
      if f and info:find("`", 1, true) then
        f = nil
      end
      if not f then
        f, info = line:match("^%s*(~~~+)%s*(.-)%s*$")
      end
      if f then
        open = { start = i, ch = f:sub(1, 1), len = #f, info = info }
      end
    end
  end
  if open then
    open.stop = #lines + 1
    table.insert(out, open)
  end
  return out
end

-- at gives the block of buf at line lnum, else the last one above it.
function M.at(buf, lnum)
  local found
  for _, b in ipairs(M.list(buf)) do
    if b.start <= lnum then
      found = b
    end
  end
  return found
end

-- code is a block's lines, without its fences.
function M.code(buf, b)
  return api.nvim_buf_get_lines(buf, b.start, b.stop - 1, false)
end

local function jump(forward)
  local lnum = api.nvim_win_get_cursor(0)[1]
  local blocks = M.list(0)
  local target
  for i = forward and 1 or #blocks, forward and #blocks or 1, forward and 1 or -1 do
    local b = blocks[i]
    if (forward and b.start > lnum) or (not forward and b.start < lnum) then
      target = b
      break
    end
  end
  if not target then
    notify("tinychat: no code block " .. (forward and "below" or "above"))
    return
  end
  vim.cmd("normal! m'")
  api.nvim_win_set_cursor(0, { target.start, 0 })
end

-- next and prev move the cursor to the opening fence of the next or
-- previous code block.
function M.next()
  jump(true)
end

function M.prev()
  jump(false)
end

local function current()
  local b = M.at(0, api.nvim_win_get_cursor(0)[1])
  if not b then
    notify("tinychat: no code block at or above the cursor", vim.log.levels.WARN)
  end
  return b
end

-- yank puts the code of the block under the cursor (else the last one
-- above it) in the register given (v:register), linewise.
function M.yank()
  local b = current()
  if not b then
    return
  end
  local code = M.code(0, b)
  vim.fn.setreg(vim.v.register, code, "l")
  notify(string.format("tinychat: yanked %d line%s", #code, #code == 1 and "" or "s"))
end

local function split(s)
  return vim.split(s, "\n", { plain = true })
end

-- find gives the 0-based start of lines (a list) in buf's lines, or nil.
local function find(all, lines, from)
  for i = from or 1, #all - #lines + 1 do
    local ok = true
    for j = 1, #lines do
      if all[i + j - 1] ~= lines[j] then
        ok = false
        break
      end
    end
    if ok then
      return i - 1
    end
  end
end

-- where tells which lines of buf item (a context item) covers: start and
-- stop, 0-based, stop exclusive. The item's range when its lines are still
-- there; else wherever its text now is; nil when it is nowhere.
local function where(buf, item)
  local all = api.nvim_buf_get_lines(buf, 0, -1, false)
  local sent = split((item.text or ""):gsub("\n$", ""))
  local r = type(item.range) == "table" and item.range or nil
  if r and r.start and r["end"] then
    local s = r.start.line
    if find(all, sent, s + 1) == s then
      return s, s + #sent
    end
  end
  local s = find(all, sent)
  if s then
    return s, s + #sent
  end
end

-- show_diff opens a tab with the file's window beside a scratch buffer of
-- its lines before the change, both in diff mode.
local function show_diff(buf, before, first)
  vim.cmd("tab split")
  api.nvim_win_set_buf(0, buf)
  local file_win = api.nvim_get_current_win()
  vim.cmd("leftabove vnew")
  local old = api.nvim_get_current_buf()
  api.nvim_buf_set_lines(old, 0, -1, false, before)
  vim.bo[old].buftype = "nofile"
  vim.bo[old].bufhidden = "wipe"
  vim.bo[old].swapfile = false
  vim.bo[old].modifiable = false
  vim.bo[old].filetype = vim.bo[buf].filetype
  pcall(api.nvim_buf_set_name, old, "tinychat://before/" .. vim.fn.fnamemodify(api.nvim_buf_get_name(buf), ":t"))
  vim.cmd("diffthis")
  api.nvim_set_current_win(file_win)
  vim.cmd("diffthis")
  api.nvim_win_set_cursor(file_win, { first + 1, 0 })
end

-- turn_of is the number of the question a line of the chat belongs to:
-- the "## You" headings at or above it.
local function turn_of(buf, lnum)
  local n = 0
  for i, line in ipairs(api.nvim_buf_get_lines(buf, 0, lnum, false)) do
    if line == "## You" and i <= lnum then
      n = n + 1
    end
  end
  return n
end

-- apply puts the code of the block under the cursor in place of the lines
-- its question sent as context (the last file item of that question), in
-- that file's buffer, unsaved, and shows the change in a diff: :w keeps
-- it, u takes it back.
function M.apply()
  local chat = require("tinychat.chat")
  local buf = api.nvim_get_current_buf()
  local b = current()
  if not b then
    return
  end
  local code = M.code(buf, b)
  local k = turn_of(buf, b.start)
  local id = chat.session_id()
  if not id or k == 0 then
    notify("tinychat: this block has no question with a file above it", vim.log.levels.WARN)
    return
  end
  require("tinychat.rpc").request("session/get", { sessionId = id }, function(err, res)
    if err then
      notify("tinychat: " .. tostring(err.message), vim.log.levels.ERROR)
      return
    end
    local n, item = 0, nil
    for _, m in ipairs(res.messages) do
      if m.role == "user" then
        n = n + 1
        if n == k and type(m.context) == "table" then
          for _, c in ipairs(m.context) do
            if type(c.uri) == "string" and c.uri:match("^file://") then
              item = c
            end
          end
        end
      end
    end
    if not item then
      notify(
        "tinychat: the question of this block sent no file (send lines with :'<,'>TinyChat to apply the answer to them); gy yanks it",
        vim.log.levels.WARN
      )
      return
    end
    local path = vim.uri_to_fname(item.uri)
    local target = vim.fn.bufadd(path)
    vim.fn.bufload(target)
    vim.bo[target].buflisted = true
    local s, e = where(target, item)
    if not s then
      notify(
        "tinychat: the lines sent from " .. vim.fn.fnamemodify(path, ":~:.") .. " are no longer in it; gy yanks the block",
        vim.log.levels.WARN
      )
      return
    end
    local before = api.nvim_buf_get_lines(target, 0, -1, false)
    api.nvim_buf_set_lines(target, s, e, false, code)
    show_diff(target, before, s)
    notify(
      string.format(
        "tinychat: applied to %s, lines %d-%d (not written): :w keeps it, u takes it back, :tabclose closes the diff",
        vim.fn.fnamemodify(path, ":~:."),
        s + 1,
        s + #code
      )
    )
  end)
end

return M

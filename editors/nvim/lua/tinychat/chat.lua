-- The chat buffer: a markdown buffer laid out like tinychat's markdown
-- export (# title, the providers line, ## You / ## Assistant headings),
-- ending with an empty "## You" section where the next message is written.
-- Replies stream in through chat/delta notifications, appended at an
-- extmark that marks the end of the reply, so typing elsewhere in the
-- buffer (or in any other) is never blocked. The model's reasoning
-- (chat/reasoning) goes in a <details> block above the answer, which the
-- chat windows fold away once the answer starts. Tool calls (chat/toolCall)
-- stand where the reply made them, between its texts, as the export shows
-- them: a "**Tool**" line with the status, updated in place, and the
-- output in a <details> block, the whole call folded to one line.
local rpc = require("tinychat.rpc")

local M = {}

local api = vim.api
local ns = api.nvim_create_namespace("tinychat")
local levels = vim.log.levels

local S = {
  buf = nil,
  session = nil, -- id of the session shown in the buffer
  loaded = false, -- the buffer shows S.session's history
  loading = false,
  waiting = {}, -- callbacks run once the history is loaded
  turn = nil, -- the reply in progress
  provider = nil, -- :TinyChatModel
  model = nil,
}

local YOU, ASSISTANT, INTERRUPTED = "## You", "## Assistant", "*(interrupted)*"
-- A reply's reasoning goes between these lines, right below its
-- "## Assistant" heading, as the markdown export writes it (a block that
-- renderers show folded).
local OPEN, CLOSE = "<details><summary>Reasoning</summary>", "</details>"
-- A tool call: TOOL then its name, arguments and status, and once it has
-- one its output between OUTPUT and CLOSE.
local TOOL, OUTPUT = "**Tool** `", "<details><summary>Output</summary>"
-- How much of a tool's output is shown, as the markdown export cuts it.
local MAX_SHOWN_OUTPUT = 500
-- A call's last status: no notification follows it.
local FINAL = { completed = true, failed = true, rejected = true }
-- How a reply ended, when that is worth saying: stopReason -> the marker
-- under the reply, as the markdown export writes it, and the warning
-- vim.notify gives (an error has its own notification).
local ENDINGS = {
  max_tokens = { "*(cut off at the token limit)*", "tinychat: the reply was cut off at the token limit" },
  refusal = { "*(the model refused)*", "tinychat: the model refused to answer" },
  content_filter = {
    "*(stopped by the provider's content filter)*",
    "tinychat: the provider's content filter stopped the reply",
  },
  error = { "*(interrupted by an error)*" },
  max_tool_steps = {
    "*(stopped after the tool-step limit)*",
    "tinychat: the reply stopped at the tool-step limit; the model's last tool calls were not run",
  },
}

local function notify(msg, level)
  vim.notify(msg, level or levels.INFO)
end

local function split(s)
  return vim.split(s, "\n", { plain = true })
end

local function trim_newlines(s)
  return (s:gsub("[\r\n]+$", ""))
end

-- show_reasoning is read each time so that setup() applies at once.
local function show_reasoning()
  return require("tinychat").config.show_reasoning ~= false
end

local function fence(text)
  local longest = 0
  for run in text:gmatch("`+") do
    longest = math.max(longest, #run)
  end
  return string.rep("`", math.max(3, longest + 1))
end

-- context_name is a context item's heading: its file name and lines, as
-- the markdown export writes it.
local function context_name(c)
  local path = c.uri:match("^%a[%w+.-]*://[^/]*(/.*)$") or c.uri
  path = path:gsub("%%(%x%x)", function(h)
    return string.char(tonumber(h, 16))
  end)
  local name = path:match("([^/]*)/*$")
  if name == "" then
    name = path
  end
  if rpc.is_nil(c.range) or type(c.range) ~= "table" then
    return name
  end
  local first, last = c.range.start.line + 1, c.range["end"].line + 1
  if c.range["end"].character == 0 and last > first then
    last = last - 1
  end
  if last <= first then
    return string.format("%s (line %d)", name, first)
  end
  return string.format("%s (lines %d-%d)", name, first, last)
end

-- block appends text to lines as one block, one blank line after the
-- previous one, as the markdown export does.
local function block(lines, text)
  if #lines > 0 then
    table.insert(lines, "")
  end
  vim.list_extend(lines, split(trim_newlines(text)))
end

local function str(v)
  return type(v) == "string" and v or ""
end

-- tool_block is a tool call as the markdown export shows it: its name,
-- arguments and status, then the start of its output, if any, in a
-- <details> block.
local function tool_block(c)
  local head = string.format("%s%s` `%s` (%s)", TOOL, str(c.name), str(c.arguments), str(c.status))
  local out = str(c.output)
  if out == "" then
    return head
  end
  if #out > MAX_SHOWN_OUTPUT then
    local cut = MAX_SHOWN_OUTPUT
    -- Not inside a UTF-8 sequence: the next byte starts a character.
    while cut > 0 and out:byte(cut + 1) >= 0x80 and out:byte(cut + 1) < 0xC0 do
      cut = cut - 1
    end
    out = out:sub(1, cut) .. "\n…"
  end
  local f = fence(out)
  return head .. "\n\n" .. OUTPUT .. "\n\n" .. f .. "\n" .. out:gsub("\n+$", "") .. "\n" .. f .. "\n\n" .. CLOSE
end

-- answer_blocks appends a reply's answer, content, with its tool calls
-- between its texts, where each was made (textOffset, in bytes of
-- content); a text after a call loses the blanks that joined it to the
-- one before. This is the markdown export's layout. live keeps the
-- trailing newlines of the last text, where more of it will stream.
-- It returns the index in lines of each call's first line, the offset in
-- content where the last text starts and whether that text is shown
-- (not blank).
local function answer_blocks(lines, content, calls, live)
  local heads = {}
  local at, shown = 0, false
  local function text(stop, last)
    local t = content:sub(at + 1, stop)
    shown = t:match("%S") ~= nil
    if shown then
      if at > 0 then
        t = t:gsub("^[ \r\n]+", "")
      end
      if last and live then
        if #lines > 0 then
          table.insert(lines, "")
        end
        vim.list_extend(lines, split(t))
      else
        block(lines, t)
      end
    end
    at = stop
  end
  for _, c in ipairs(calls or {}) do
    text(math.min(math.max(tonumber(c.textOffset) or 0, at), #content))
    block(lines, tool_block(c))
    local n = #split(tool_block(c))
    table.insert(heads, #lines - n + 1)
  end
  local last_at = at
  text(#content, true)
  return heads, last_at, shown
end

-- assistant_blocks appends a reply: its reasoning (unless hidden), its
-- text and tool calls, and the marker of how it ended when that needs
-- saying. It returns the index in lines of each call's first line.
local function assistant_blocks(lines, reasoning, content, marker, calls)
  if show_reasoning() and type(reasoning) == "string" and reasoning:match("%S") then
    -- The blank lines let markdown inside the reasoning render.
    block(lines, OPEN .. "\n\n" .. trim_newlines(reasoning) .. "\n\n" .. CLOSE)
  end
  local heads = answer_blocks(lines, content, calls)
  if marker then
    block(lines, marker)
  end
  return heads
end

-- stored_marker is the marker under a stored reply. Replies stored before
-- stopReason existed have only the interrupted flag.
local function stored_marker(m)
  local ending = ENDINGS[m.stopReason]
  if ending then
    return ending[1]
  end
  return m.interrupted == true and INTERRUPTED or nil
end

local function user_blocks(lines, content, context)
  block(lines, YOU)
  for _, c in ipairs(context or {}) do
    local f = fence(c.text)
    local lang = rpc.is_nil(c.languageId) and "" or c.languageId
    block(lines, context_name(c) .. "\n" .. f .. lang .. "\n" .. c.text:gsub("\n$", "") .. "\n" .. f)
  end
  if content:match("%S") then
    block(lines, content)
  end
end

local function header(session, messages)
  local lines = {}
  local title = session and table.concat(vim.split(vim.trim(session.title or ""), "%s+"), " ") or ""
  block(lines, "# " .. (title ~= "" and title or "Untitled session"))
  local used, seen = {}, {}
  for _, m in ipairs(messages) do
    local parts = {}
    for _, v in ipairs({ m.provider, m.model }) do
      if not rpc.is_nil(v) and v ~= "" then
        table.insert(parts, v)
      end
    end
    local name = table.concat(parts, " · ")
    if name ~= "" and not seen[name] then
      seen[name] = true
      table.insert(used, name)
    end
  end
  if #used > 0 then
    block(lines, "*" .. table.concat(used, ", ") .. "*")
  end
  return lines
end

-- render gives the buffer lines of a session: what session/export writes
-- as markdown, then the draft section.
local function render(session, messages, draft)
  local lines = header(session, messages)
  for _, m in ipairs(messages) do
    if m.role == "user" then
      user_blocks(lines, m.content, not rpc.is_nil(m.context) and m.context or nil)
    else
      block(lines, ASSISTANT)
      local calls = type(m.toolCalls) == "table" and m.toolCalls or nil
      assistant_blocks(lines, m.reasoning, m.content, stored_marker(m), calls)
    end
  end
  block(lines, YOU)
  table.insert(lines, "")
  vim.list_extend(lines, draft or { "" })
  return lines
end

local function valid_buf()
  return S.buf ~= nil and api.nvim_buf_is_valid(S.buf)
end

local function mark_pos(id)
  return api.nvim_buf_get_extmark_by_id(S.buf, ns, id, {})
end

local function windows()
  local wins = {}
  if valid_buf() then
    for _, win in ipairs(api.nvim_list_wins()) do
      if api.nvim_win_get_buf(win) == S.buf then
        table.insert(wins, win)
      end
    end
  end
  return wins
end

local FOLDEXPR = "v:lua.require'tinychat.chat'.foldexpr(v:lnum)"
local FOLDTEXT = "v:lua.require'tinychat.chat'.foldtext()"

-- tool_output is the line number of the OUTPUT line of the tool call whose
-- first line is lnum, or nil when it has no output (yet). The call's
-- first lines (arguments may hold newlines) end at a blank line.
local function tool_output(lnum)
  local last = vim.fn.line("$")
  for k = lnum + 1, math.min(lnum + 200, last - 1) do
    local line = vim.fn.getline(k)
    if line == "" then
      return vim.fn.getline(k + 1) == OUTPUT and k + 1 or nil
    elseif line == YOU or line == ASSISTANT then
      return nil
    end
  end
  return nil
end

-- foldexpr, the chat windows' 'foldexpr', folds each reasoning block,
-- from an OPEN line right under an "## Assistant" heading and its blank
-- line to the CLOSE line, and each tool call that has an output, from its
-- TOOL line to the CLOSE line of its output. The text alone says where
-- the blocks are, so folds follow every change to the buffer, typed or
-- streamed. A heading ends any fold, should a CLOSE line be missing.
function M.foldexpr(lnum)
  if api.nvim_get_current_buf() ~= S.buf then
    return "0"
  end
  local line = vim.fn.getline(lnum)
  if line == OPEN and lnum > 2 and vim.fn.getline(lnum - 1) == "" and vim.fn.getline(lnum - 2) == ASSISTANT then
    return ">1"
  elseif line:sub(1, #TOOL) == TOOL and lnum > 1 and vim.fn.getline(lnum - 1) == "" and tool_output(lnum) then
    return ">1"
  elseif line == CLOSE then
    return "<1"
  elseif line == YOU or line == ASSISTANT then
    return "0"
  end
  return "="
end

-- tool_foldtext shows a folded tool call, lines, as its call, status and
-- the size and start of its output.
local function tool_foldtext(lines)
  local head, i = {}, 1
  while lines[i] and lines[i] ~= "" do
    table.insert(head, vim.trim(lines[i]))
    i = i + 1
  end
  local h = table.concat(head, " ")
  local name, args, status = h:match("^%*%*Tool%*%* `([^`]*)` `(.*)` %(([%w_]+)%)$")
  if name then
    h = string.format("Tool %s %s — %s", name, args, status)
  end
  -- After the head: "", OUTPUT, "", a fence, the output, a fence, "", CLOSE.
  local n = math.max(#lines - i - 6, 0)
  return string.format("%s (output: %d line%s) %s", h, n, n == 1 and "" or "s", vim.trim(lines[i + 4] or ""))
end

-- foldtext shows a folded reasoning block as its size and first words,
-- and a folded tool call as the call and its output's size and start.
function M.foldtext()
  local first, last = vim.v.foldstart, vim.v.foldend
  if api.nvim_get_current_buf() ~= S.buf then
    return vim.fn.foldtext()
  end
  if vim.fn.getline(first):sub(1, #TOOL) == TOOL then
    return tool_foldtext(api.nvim_buf_get_lines(0, first - 1, last, false))
  end
  if vim.fn.getline(first) ~= OPEN then
    return vim.fn.foldtext()
  end
  local words, n = "", 0
  for _, line in ipairs(api.nvim_buf_get_lines(0, first, last, false)) do
    if line ~= CLOSE then
      n = n + 1
      if words == "" then
        words = vim.trim(line)
      end
    end
  end
  -- Not counted: the blank lines around the reasoning.
  n = math.max(n - 2, 0)
  return string.format("Reasoning (%d line%s): %s", n, n == 1 and "" or "s", words)
end

-- setup_window makes win fold the reasoning blocks and tool calls, closed
-- until opened. The options are set local to win, as :setlocal does, to
-- leave the user's other windows alone.
local function setup_window(win)
  if vim.wo[win].foldexpr == FOLDEXPR then
    return
  end
  api.nvim_win_call(win, function()
    vim.opt_local.foldmethod = "expr"
    vim.opt_local.foldexpr = FOLDEXPR
    vim.opt_local.foldtext = FOLDTEXT
    vim.opt_local.foldlevel = 0
    vim.opt_local.foldenable = true
  end)
end

-- folds_closed tells, for each chat window, whether the fold at row
-- (0-based) is closed.
local function folds_closed(row)
  local closed = {}
  for _, win in ipairs(windows()) do
    setup_window(win)
    closed[win] = api.nvim_win_call(win, function()
      return vim.fn.foldclosed(row + 1) ~= -1
    end)
  end
  return closed
end

-- set_folds closes (true) or opens (false) the fold at row in every chat
-- window; when closed is a table (from folds_closed) each window gets its
-- own.
local function set_folds(row, closed)
  for _, win in ipairs(windows()) do
    setup_window(win)
    local want = closed
    if type(closed) == "table" then
      want = closed[win]
    end
    if want ~= nil then
      api.nvim_win_call(win, function()
        local lnum = row + 1
        if vim.fn.foldlevel(lnum) > 0 and (vim.fn.foldclosed(lnum) ~= -1) ~= want then
          vim.cmd(lnum .. (want and "foldclose" or "foldopen"))
        end
      end)
    end
  end
end

local function cursor_to_end()
  local n = api.nvim_buf_line_count(S.buf)
  for _, win in ipairs(windows()) do
    api.nvim_win_set_cursor(win, { n, 0 })
  end
end

-- set_buffer shows lines, a whole session: its reasoning all folded.
local function set_buffer(lines)
  api.nvim_buf_set_lines(S.buf, 0, -1, false, lines)
  for _, win in ipairs(windows()) do
    setup_window(win)
    if vim.wo[win].foldexpr == FOLDEXPR then
      api.nvim_win_call(win, function()
        vim.cmd("normal! zM")
      end)
    end
  end
  cursor_to_end()
end

-- draft_heading is the 1-based line of the last "## You" heading, the
-- draft section, or nil when the buffer has none after the last reply.
local function draft_heading(lines)
  for i = #lines, 1, -1 do
    if lines[i] == YOU then
      return i
    elseif lines[i] == ASSISTANT then
      return nil
    end
  end
  return nil
end

local function draft_lines(lines, heading)
  local out = {}
  for i = heading + 1, #lines do
    table.insert(out, lines[i])
  end
  return vim.trim(table.concat(out, "\n"))
end

local function set_keymaps(buf)
  local keys = require("tinychat").config.keymaps or {}
  local maps = {
    send = { M.send_draft, "tinychat: send the message under the last ## You" },
    cancel = { M.cancel, "tinychat: cancel the reply" },
  }
  for name, map in pairs(maps) do
    if keys[name] then
      vim.keymap.set("n", keys[name], map[1], { buffer = buf, desc = map[2], silent = true })
    end
  end
end

local function ensure_buf()
  if valid_buf() then
    return
  end
  S.loaded = false
  S.buf = api.nvim_create_buf(true, true)
  pcall(api.nvim_buf_set_name, S.buf, "tinychat://chat")
  vim.bo[S.buf].filetype = "markdown"
  vim.bo[S.buf].bufhidden = "hide"
  api.nvim_buf_set_lines(S.buf, 0, -1, false, render(nil, {}))
  set_keymaps(S.buf)
  -- Folding is a window's business: set it up in every window that shows
  -- the buffer, however it came to show it.
  api.nvim_create_autocmd("BufWinEnter", {
    buffer = S.buf,
    callback = function()
      setup_window(api.nvim_get_current_win())
      local turn = S.turn
      if turn and turn.mark_think and not turn.answered and turn.buf == S.buf then
        -- The reasoning still streams: keep it in view.
        set_folds(mark_pos(turn.mark_body)[1], false)
      end
    end,
  })
end

local function show()
  for _, win in ipairs(api.nvim_tabpage_list_wins(0)) do
    if api.nvim_win_get_buf(win) == S.buf then
      api.nvim_set_current_win(win)
      return
    end
  end
  local split_kind = require("tinychat").config.split
  if split_kind == "horizontal" then
    vim.cmd("botright split")
  elseif split_kind == "vertical" then
    vim.cmd("botright vsplit")
  end
  local win = api.nvim_get_current_win()
  api.nvim_win_set_buf(win, S.buf)
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  setup_window(win)
  api.nvim_win_set_cursor(win, { api.nvim_buf_line_count(S.buf), 0 })
end

local function loaded(ok)
  S.loading = false
  S.loaded = ok
  local waiting = S.waiting
  S.waiting = {}
  if ok then
    for _, cb in ipairs(waiting) do
      cb()
    end
  end
end

-- load shows session id (nil: the workspace has none yet) in the buffer.
local function load(id, cb)
  if not id then
    S.session = nil
    set_buffer(render(nil, {}))
    cb(true)
    return
  end
  rpc.request("session/get", { sessionId = id }, function(err, res)
    if err then
      notify("tinychat: " .. tostring(err.message), levels.ERROR)
      cb(false)
      return
    end
    S.session = id
    if valid_buf() then
      set_buffer(render(res.session, res.messages))
    end
    cb(true)
  end)
end

-- open shows the chat buffer in a window (focusing it) and calls cb once
-- it holds its session's history: the session shown before, else the
-- workspace's current one.
function M.open(cb)
  ensure_buf()
  show()
  if S.loaded then
    if cb then
      cb()
    end
    return
  end
  if cb then
    table.insert(S.waiting, cb)
  end
  if S.loading then
    return
  end
  S.loading = true
  if S.session then
    load(S.session, loaded)
    return
  end
  rpc.request("session/list", {}, function(err, res)
    if err then
      notify("tinychat: " .. tostring(err.message), levels.ERROR)
      loaded(false)
      return
    end
    local current
    for _, s in ipairs(res.sessions) do
      if s.current then
        current = s.id
      end
    end
    load(current, loaded)
  end)
end

local function busy()
  if S.turn then
    notify("tinychat: a reply is still streaming (:TinyChatCancel stops it)", levels.WARN)
    return true
  end
  return false
end

-- open_session shows session id with its history.
function M.open_session(id)
  if busy() then
    return
  end
  ensure_buf()
  show()
  S.loading = true
  load(id, loaded)
end

-- new starts a new session (it becomes the workspace's current one) and
-- shows it, empty.
function M.new()
  if busy() then
    return
  end
  rpc.request("session/new", {}, function(err, res)
    if err then
      notify("tinychat: " .. tostring(err.message), levels.ERROR)
      return
    end
    ensure_buf()
    show()
    S.session = res.id
    set_buffer(render(res, {}))
    loaded(true)
  end)
end

-- answered notes that the reply has gone past its reasoning (answer text
-- or a tool call has come): the reasoning folds away.
local function answered(turn)
  if turn.answered then
    return
  end
  turn.answered = true
  if turn.mark_think then
    set_folds(mark_pos(turn.mark_body)[1], true)
  end
end

-- append adds text at the end of the reply; windows whose cursor was at
-- the reply's end (or below) follow it. After a tool call the text starts
-- a block of its own once it has more than blanks, without the blanks
-- that lead it (as the export shows it).
local function append(turn, text)
  turn.text = turn.text .. text
  if turn.buf ~= S.buf or not valid_buf() or text == "" then
    return
  end
  if #turn.calls > 0 and not turn.seg_shown then
    local seg = turn.text:sub(turn.seg_at + 1)
    if not seg:match("%S") then
      return
    end
    if turn.seg_at > 0 then
      seg = seg:gsub("^[ \r\n]+", "")
    end
    turn.seg_shown = true
    text = "\n\n" .. seg
  end
  if text:match("%S") then
    answered(turn)
  end
  local pos = mark_pos(turn.mark_end)
  local row, col = pos[1], pos[2]
  local follow = {}
  for _, win in ipairs(windows()) do
    if api.nvim_win_get_cursor(win)[1] - 1 >= row then
      table.insert(follow, win)
    end
  end
  api.nvim_buf_set_text(S.buf, row, col, row, col, split(text))
  local last = mark_pos(turn.mark_end)[1] + 1
  for _, win in ipairs(follow) do
    api.nvim_win_set_cursor(win, { last, 0 })
  end
end

-- replace puts text (lines, as nvim_buf_set_text takes them) in place of
-- the chat buffer's text from row, col to end_row, end_col. Windows whose
-- cursor is at or after the end keep it on the same line counted from
-- the end, which is where they were.
local function replace(row, col, end_row, end_col, text)
  local n = api.nvim_buf_line_count(S.buf)
  local keep = {}
  for _, win in ipairs(windows()) do
    local cur = api.nvim_win_get_cursor(win)
    if cur[1] - 1 > end_row or (cur[1] - 1 == end_row and cur[2] >= end_col) then
      keep[win] = { n - cur[1], cur[2] }
    end
  end
  api.nvim_buf_set_text(S.buf, row, col, end_row, end_col, text)
  n = api.nvim_buf_line_count(S.buf)
  for win, k in pairs(keep) do
    api.nvim_win_set_cursor(win, { n - k[1], k[2] })
  end
end

-- insert puts text at row, col of the chat buffer, as replace does.
local function insert(row, col, text)
  replace(row, col, row, col, text)
end

-- open_reasoning puts an empty reasoning block at the top of the reply,
-- above the answer, which may have begun: the daemon does not promise
-- that all reasoning comes first.
local function open_reasoning(turn)
  local row = mark_pos(turn.mark_start)[1]
  insert(row, 0, { OPEN, "", "", "", CLOSE, "", "" })
  -- mark_body stays on the OPEN line; the answer starts below the block.
  api.nvim_buf_set_extmark(S.buf, ns, row + 6, 0, { id = turn.mark_start, right_gravity = false })
  turn.mark_think = api.nvim_buf_set_extmark(S.buf, ns, row + 2, 0, { right_gravity = true })
  set_folds(row, turn.answered == true)
end

-- append_reasoning adds text to the reply's reasoning block, opened once
-- the reasoning has more than blanks (as the export decides). The fold
-- stays as it was in each window (open while only reasoning has come,
-- unless the user closed it), though growing it may have closed it.
local function append_reasoning(turn, text)
  turn.reasoning = turn.reasoning .. text
  if turn.buf ~= S.buf or not valid_buf() or not show_reasoning() then
    return
  end
  if not turn.mark_think then
    if not turn.reasoning:match("%S") then
      return
    end
    open_reasoning(turn)
    text = turn.reasoning
  end
  local head = mark_pos(turn.mark_body)[1]
  local closed = folds_closed(head)
  local pos = mark_pos(turn.mark_think)
  insert(pos[1], pos[2], split(text))
  set_folds(head, closed)
end

-- ordered gives the handler of a notification that streams part of the
-- reply in progress: it passes the texts to add in seq order. Answer and
-- reasoning are numbered apart, each in turn[part].
local function ordered(part, add)
  return function(p)
    local turn = S.turn
    if not turn or p.requestId ~= turn.id then
      return
    end
    if not S.session and type(p.sessionId) == "string" then
      S.session = p.sessionId
    end
    local stream = turn[part]
    stream.early[p.seq] = p.text
    while stream.early[stream.seq] do
      local text = stream.early[stream.seq]
      stream.early[stream.seq] = nil
      stream.seq = stream.seq + 1
      add(turn, text)
    end
  end
end

rpc.on("chat/delta", ordered("answer", append))
rpc.on("chat/reasoning", ordered("thinking", append_reasoning))

-- call_folds tells, for each of turn's calls shown with an output, whether
-- its fold is closed in each chat window (as folds_closed does).
local function call_folds(turn)
  local closed = {}
  for i, c in ipairs(turn.calls) do
    if c.mark and c.folded then
      closed[i] = folds_closed(mark_pos(c.mark)[1])
    end
  end
  return closed
end

-- render_answer shows the answer so far again, its texts and tool calls,
-- from the reply's mark_start to mark_end: a call has come or changed.
-- A call's fold stays as each window had it, as does the reasoning's; a
-- call that just got its output is folded.
local function render_answer(turn)
  local lines = {}
  local heads, at, shown = answer_blocks(lines, turn.text, turn.calls, true)
  turn.seg_at, turn.seg_shown = at, shown
  local closed = call_folds(turn)
  local think = turn.mark_think and mark_pos(turn.mark_body)[1]
  local think_closed = think and folds_closed(think)
  local s, e = mark_pos(turn.mark_start), mark_pos(turn.mark_end)
  replace(s[1], s[2], e[1], e[2], lines)
  local end_row = s[1] + #lines - 1
  local end_col = #lines[#lines] + (#lines == 1 and s[2] or 0)
  api.nvim_buf_set_extmark(S.buf, ns, s[1], s[2], { id = turn.mark_start, right_gravity = false })
  api.nvim_buf_set_extmark(S.buf, ns, end_row, end_col, { id = turn.mark_end, right_gravity = true })
  for i, c in ipairs(turn.calls) do
    local row = s[1] + heads[i] - 1
    c.mark = api.nvim_buf_set_extmark(S.buf, ns, row, 0, { id = c.mark, right_gravity = false })
    if str(c.output) ~= "" then
      set_folds(row, closed[i] or true)
      c.folded = true
    end
  end
  if think then
    set_folds(think, think_closed)
  end
end

-- A tool call of the reply in progress: a new one is shown where the
-- answer has got to, a known one (the same id, not yet ended) changes.
rpc.on("chat/toolCall", function(p)
  local turn = S.turn
  if not turn or p.requestId ~= turn.id or type(p.toolCallId) ~= "string" then
    return
  end
  if not S.session and type(p.sessionId) == "string" then
    S.session = p.sessionId
  end
  local call
  for i = #turn.calls, 1, -1 do
    local c = turn.calls[i]
    if c.id == p.toolCallId and not FINAL[c.status] then
      call = c
      break
    end
  end
  if not call then
    call = { id = p.toolCallId, textOffset = #turn.text }
    table.insert(turn.calls, call)
  end
  call.name, call.arguments, call.status = str(p.name), str(p.arguments), str(p.status)
  call.server = type(p.server) == "string" and p.server or nil
  if type(p.output) == "string" then
    call.output = p.output
  end
  if turn.buf ~= S.buf or not valid_buf() then
    return
  end
  answered(turn)
  render_answer(turn)
end)

-- refresh_header rewrites the title and providers lines from the store
-- (the title is set by the first message).
local function refresh_header()
  local id = S.session
  if not id then
    return
  end
  rpc.request("session/get", { sessionId = id }, function(err, res)
    if err or id ~= S.session or not valid_buf() then
      return
    end
    local lines = api.nvim_buf_get_lines(S.buf, 0, -1, false)
    for i, line in ipairs(lines) do
      if line:match("^## ") then
        local head = header(res.session, res.messages)
        table.insert(head, "")
        local follow = {}
        for _, win in ipairs(windows()) do
          follow[win] = api.nvim_win_get_cursor(win)[1] == #lines
        end
        api.nvim_buf_set_lines(S.buf, 0, i - 1, false, head)
        for win, at_end in pairs(follow) do
          if at_end then
            api.nvim_win_set_cursor(win, { api.nvim_buf_line_count(S.buf), 0 })
          end
        end
        return
      end
    end
  end)
end

-- finish ends turn with the chat/send answer: the reply as the daemon has
-- it, marked when interrupted, refused or filtered, then a new draft
-- section; or, when the daemon did not keep the message, the message back
-- in the draft.
local function finish(turn, err, result)
  if S.turn ~= turn then
    return
  end
  S.turn = nil
  require("tinychat.tools").forget(turn.id)
  local text, reasoning, interrupted, ending = turn.text, turn.reasoning, false, nil
  if err == nil then
    text = result.text
    if type(result.reasoning) == "string" then
      reasoning = result.reasoning
    end
    ending = ENDINGS[result.stopReason]
    S.session = result.sessionId
  else
    local data = type(err.data) == "table" and err.data or {}
    if type(data.sessionId) == "string" then
      S.session = data.sessionId
    end
    if type(data.text) == "string" and #data.text >= #text then
      text = data.text
    end
    if type(data.reasoning) == "string" and #data.reasoning >= #reasoning then
      reasoning = data.reasoning
    end
    ending = { INTERRUPTED }
    if err.code ~= rpc.CANCELLED and err.code ~= rpc.EXITED and err.code ~= rpc.NOT_STARTED then
      notify(tostring(err.message), levels.ERROR)
      ending = ENDINGS.error
    end
    -- The daemon keeps a turn that failed or was cancelled once answer or
    -- reasoning had arrived, and drops one that had neither.
    interrupted = true
  end
  if ending and ending[2] then
    notify(ending[2], levels.WARN)
  end
  -- A reply that made a tool call is kept, even without text.
  local dropped = interrupted and text == "" and reasoning == "" and #turn.calls == 0
  if turn.buf ~= S.buf or not valid_buf() then
    -- The buffer was wiped while the reply streamed: show what is stored.
    S.loaded = false
    if valid_buf() and S.session then
      S.loading = true
      load(S.session, loaded)
    end
    return
  end
  local lines = api.nvim_buf_get_lines(S.buf, 0, -1, false)
  local endpos = mark_pos(turn.mark_end)
  -- Whatever was typed after the reply while it streamed joins the draft.
  local typed = { (lines[endpos[1] + 1] or ""):sub(endpos[2] + 1) }
  for i = endpos[1] + 2, #lines do
    table.insert(typed, lines[i])
  end
  local draft = vim.trim(table.concat(typed, "\n"))
  if turn.draft ~= "" then
    draft = vim.trim(turn.draft .. "\n\n" .. draft)
  end
  local follow = false
  for _, win in ipairs(windows()) do
    if api.nvim_win_get_cursor(win)[1] - 1 >= endpos[1] then
      follow = true
    end
  end

  local out
  if dropped then
    -- Not stored: offer the message again.
    local start = mark_pos(turn.mark_turn)[1]
    local restored = vim.trim(turn.message .. (draft ~= "" and ("\n\n" .. draft) or ""))
    out = { YOU, "" }
    vim.list_extend(out, split(restored))
    api.nvim_buf_set_lines(S.buf, start, -1, false, out)
  else
    local start = mark_pos(turn.mark_body)[1]
    -- The reasoning fold stays as each window had it once the answer had
    -- folded it; a reply that never got to an answer folds it now. So do
    -- the tool calls' folds.
    local closed = turn.answered and turn.mark_think and folds_closed(start) or true
    local calls_closed = call_folds(turn)
    out = {}
    local heads = assistant_blocks(out, reasoning, text, ending and ending[1], turn.calls)
    block(out, YOU)
    table.insert(out, "")
    vim.list_extend(out, split(draft))
    api.nvim_buf_set_lines(S.buf, start, -1, false, out)
    if out[1] == OPEN then
      set_folds(start, closed)
    end
    for i, c in ipairs(turn.calls) do
      if str(c.output) ~= "" then
        set_folds(start + heads[i] - 1, calls_closed[i] or true)
      end
    end
  end
  local marks = { turn.mark_turn, turn.mark_body, turn.mark_start, turn.mark_end }
  table.insert(marks, turn.mark_think)
  for _, c in ipairs(turn.calls) do
    table.insert(marks, c.mark)
  end
  for _, mark in ipairs(marks) do
    api.nvim_buf_del_extmark(S.buf, ns, mark)
  end
  if follow then
    cursor_to_end()
  end
  -- A daemon that has gone is restarted by the user's next command only.
  local gone = err and (err.code == rpc.EXITED or err.code == rpc.NOT_STARTED)
  if not gone and not dropped then
    refresh_header()
  end
end

local function start_turn(message, draft, context)
  local lines = api.nvim_buf_get_lines(S.buf, 0, -1, false)
  local heading = draft_heading(lines)
  local start = heading and heading - 1 or #lines
  local out = {}
  if start > 0 and lines[start] ~= "" then
    table.insert(out, "")
  end
  local first = start + #out
  user_blocks(out, message, context)
  block(out, ASSISTANT)
  table.insert(out, "")
  table.insert(out, "")
  api.nvim_buf_set_lines(S.buf, start, -1, false, out)
  local row = start + #out - 1
  local turn = {
    buf = S.buf,
    message = message,
    draft = draft,
    text = "",
    reasoning = "",
    answer = { seq = 0, early = {} },
    thinking = { seq = 0, early = {} },
    answered = false, -- non-blank answer text or a tool call has arrived
    -- Tool calls: {id, name, server, arguments, status, output, textOffset,
    -- mark (its first line), folded (shown with an output)}, in order.
    calls = {},
    seg_at = 0, -- where the answer's text after the last call starts
    seg_shown = false, -- that text is shown (it has more than blanks)
    mark_think = nil, -- the end of the reasoning shown, once some is
    mark_turn = api.nvim_buf_set_extmark(S.buf, ns, first, 0, { right_gravity = false }),
    -- The reply: reasoning from mark_body, answer from mark_start.
    mark_body = api.nvim_buf_set_extmark(S.buf, ns, row, 0, { right_gravity = false }),
    mark_start = api.nvim_buf_set_extmark(S.buf, ns, row, 0, { right_gravity = false }),
    mark_end = api.nvim_buf_set_extmark(S.buf, ns, row, 0, { right_gravity = true }),
  }
  cursor_to_end()
  return turn
end

-- send sends message (nil: the draft under the last "## You") with
-- context items, showing the chat buffer.
function M.send(message, context)
  if busy() then
    return
  end
  M.open(function()
    if busy() or not valid_buf() then
      return
    end
    local lines = api.nvim_buf_get_lines(S.buf, 0, -1, false)
    local heading = draft_heading(lines)
    local draft = heading and draft_lines(lines, heading) or ""
    if message == nil then
      if draft == "" then
        notify("tinychat: nothing to send: write your message under the last " .. YOU, levels.WARN)
        return
      end
      message, draft = draft, ""
    end
    local turn = start_turn(message, draft, context)
    S.turn = turn
    turn.id = rpc.request("chat/send", {
      message = message,
      sessionId = S.session,
      context = context,
      provider = S.provider,
      model = S.model,
    }, function(err, result)
      finish(turn, err, result)
    end)
  end)
end

-- send_draft sends the text under the last "## You" heading.
function M.send_draft()
  M.send(nil)
end

-- cancel stops the reply in progress; the daemon keeps what arrived,
-- marked interrupted.
function M.cancel()
  local turn = S.turn
  if not turn or not turn.id then
    notify("tinychat: no reply in progress")
    return
  end
  rpc.notify("$/cancelRequest", { id = turn.id })
end

function M.is_chat_buffer(buf)
  return valid_buf() and buf == S.buf
end

-- session_id is the id of the session in the chat buffer, or nil.
function M.session_id()
  return S.session
end

-- bufnr is the chat buffer, or nil.
function M.bufnr()
  return valid_buf() and S.buf or nil
end

-- streaming tells whether a reply is in progress.
function M.streaming()
  return S.turn ~= nil
end

function M.set_model(provider, model)
  S.provider, S.model = provider, model
end

function M.get_model()
  return S.provider, S.model
end

return M

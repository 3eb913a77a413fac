-- The chat buffer: a markdown buffer laid out like tinychat's markdown
-- export (# title, the providers line, ## You / ## Assistant headings),
-- ending with a "## You" section, the draft, where the next message is
-- written. A turn goes in above the draft, which it never touches: typing
-- there while a reply streams stays where it is typed. Replies stream in
-- through chat/delta notifications, inserted at an extmark that marks the
-- end of the reply (nvim_buf_set_text, which moves no cursor off its
-- text), so typing elsewhere in the buffer (or in any other) is never
-- blocked. The plugin's writes are kept out of the undo history: `u`
-- undoes the user's typing, never a reply. The model's reasoning
-- (chat/reasoning) goes in a <details> block above the answer, which the
-- chat windows fold away once the answer starts. Tool calls (chat/toolCall)
-- stand where the reply made them, between its texts, as the export shows
-- them: a "**Tool**" line with the status, updated in place, and the
-- output in a <details> block, the whole call folded to one line.
local rpc = require("tinychat.rpc")

local M = {}

local api = vim.api
local uv = vim.uv or vim.loop
local ns = api.nvim_create_namespace("tinychat")
-- Virtual text that is not the session's: a reply's progress (waiting,
-- retrying) and its usage, on its "## Assistant" heading.
local ns_status = api.nvim_create_namespace("tinychat_status")
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
  messages = {}, -- the stored messages of S.session, as last read
  workspace = nil, -- Neovim's working directory when the session was shown
  queue = {}, -- commands waiting for the one in flight
  running = false, -- a command is in flight
  last = nil, -- the last reply that ended: {sessionId, messageId, stopReason, usage, ...}
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
  max_size = {
    "*(cut at the size limit)*",
    "tinychat: the reply reached the daemon's size limit (max_reply_bytes) and was stopped there",
  },
}
-- The daemon's error when the store cannot take a write (a full disk).
local STORE_FULL = -32006

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

-- unrecorded runs fn, which writes to the chat buffer, out of the undo
-- history: 'undolevels' -1 while it runs (setting it syncs undo first, so
-- a change being typed is not joined to the write). The history before it
-- goes too: `u` must not undo into the middle of a reply.
local function unrecorded(fn)
  api.nvim_buf_call(S.buf, function()
    vim.bo[S.buf].undolevels = -1
    local ok, err = pcall(fn)
    -- -123456: no local value, the global one applies.
    vim.bo[S.buf].undolevels = -123456
    if not ok then
      error(err, 0)
    end
  end)
end

local function set_lines(start, stop, lines)
  unrecorded(function()
    api.nvim_buf_set_lines(S.buf, start, stop, false, lines)
  end)
end

local function set_text(row, col, end_row, end_col, text)
  unrecorded(function()
    api.nvim_buf_set_text(S.buf, row, col, end_row, end_col, text)
  end)
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
  set_lines(0, -1, lines)
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

local last_redraw = 0

local function status_changed()
  last_redraw = uv.now()
  pcall(vim.cmd, "redrawstatus!")
end

-- status_grew redraws the statuslines for a reply that grew, at most
-- five times a second.
local function status_grew()
  if uv.now() - last_redraw >= 200 then
    status_changed()
  end
end

-- Commands run one at a time, in the order given: one issued while an
-- earlier one is in flight (a session loading, a picker open, a reply
-- streaming) waits for it, as :TinyChatNew then :TinyChat in a mapping
-- need. A command is a function(done) that calls done() once its work is
-- over, whatever the outcome.
local function run_next()
  if S.running then
    return
  end
  local cmd = table.remove(S.queue, 1)
  if not cmd then
    status_changed()
    return
  end
  S.running = true
  local finished = false
  local function done()
    if finished then
      return
    end
    finished = true
    S.running = false
    vim.schedule(run_next)
  end
  local ok, err = pcall(cmd, done)
  if not ok then
    notify("tinychat: " .. tostring(err), levels.ERROR)
    done()
  end
end

-- enqueue runs cmd (a function(done)) once the commands before it are
-- done; now when none is in flight.
function M.enqueue(cmd)
  table.insert(S.queue, cmd)
  if S.running and S.turn then
    notify("tinychat: a reply is streaming; this runs once it ends (:TinyChatCancel stops it)")
    status_changed()
  end
  run_next()
end

-- pending is the number of commands in flight or waiting.
function M.pending()
  return #S.queue + (S.running and 1 or 0)
end

local function set_keymaps(buf)
  local keys = require("tinychat").config.keymaps or {}
  local blocks = require("tinychat.blocks")
  local maps = {
    send = { M.send_draft, "tinychat: send the message under the last ## You" },
    cancel = { M.cancel, "tinychat: cancel the reply" },
    next_block = { blocks.next, "tinychat: the next code block" },
    prev_block = { blocks.prev, "tinychat: the previous code block" },
    yank_block = { blocks.yank, "tinychat: yank the code block under the cursor" },
    apply_block = { blocks.apply, "tinychat: apply the code block to its file, with a diff" },
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
  set_lines(0, -1, render(nil, {}))
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

-- MIN_WIDTH is the narrowest a chat window beside others is of use: a
-- screen too narrow for it and a window of that width beside it gets the
-- chat in a horizontal split, the whole width.
local MIN_WIDTH = 40

-- size is an option's width or height: columns (or lines) when at least
-- 1, a fraction of total when less; default when nil.
local function size(v, total, default)
  v = v or default
  if v < 1 then
    v = total * v
  end
  return math.max(1, math.min(math.floor(v), total))
end

-- open_window opens a window for the chat buffer as config.split says.
local function open_window()
  local config = require("tinychat").config
  local kind = config.split
  local columns, lines = vim.o.columns, vim.o.lines - vim.o.cmdheight
  if kind == "float" then
    local w, h = size(config.width, columns - 2, 0.8), size(config.height, lines - 2, 0.8)
    return api.nvim_open_win(S.buf, true, {
      relative = "editor",
      width = w,
      height = h,
      row = math.floor((lines - h) / 2) - 1,
      col = math.floor((columns - w) / 2) - 1,
      border = "rounded",
    })
  end
  if kind == "vertical" and columns < 2 * MIN_WIDTH then
    kind = "horizontal"
  end
  if kind == "vertical" then
    vim.cmd("botright vsplit")
    local w = math.max(api.nvim_win_get_width(0), MIN_WIDTH)
    if config.width then
      w = size(config.width, columns, 0.4)
    end
    api.nvim_win_set_width(0, w)
    vim.wo.winfixwidth = config.width ~= nil
  elseif kind == "horizontal" then
    vim.cmd("botright split")
    if config.height then
      api.nvim_win_set_height(0, size(config.height, lines, 0.4))
    end
  end
  local win = api.nvim_get_current_win()
  api.nvim_win_set_buf(win, S.buf)
  return win
end

local function show()
  if api.nvim_get_current_buf() == S.buf then
    return
  end
  for _, win in ipairs(api.nvim_tabpage_list_wins(0)) do
    if api.nvim_win_get_buf(win) == S.buf then
      api.nvim_set_current_win(win)
      return
    end
  end
  local win = open_window()
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  setup_window(win)
  api.nvim_win_set_cursor(win, { api.nvim_buf_line_count(S.buf), 0 })
end

-- usage_text is what a reply's heading shows after it: the provider and
-- model that wrote it and the tokens it took, as far as known.
local function usage_text(provider, model, usage)
  local parts = {}
  for _, v in ipairs({ provider, model }) do
    if type(v) == "string" and v ~= "" then
      table.insert(parts, v)
    end
  end
  if type(usage) == "table" and tonumber(usage.inputTokens) and tonumber(usage.outputTokens) then
    table.insert(parts, string.format("%d in, %d out tokens", usage.inputTokens, usage.outputTokens))
  end
  return table.concat(parts, " · ")
end

local function set_note(row, text, hl, id)
  if text == "" then
    return id
  end
  return api.nvim_buf_set_extmark(S.buf, ns_status, row, 0, {
    id = id,
    virt_text = { { "  " .. text, hl } },
    virt_text_pos = "eol",
  })
end

-- annotate puts each reply's usage after its heading (the headings and
-- the assistant messages go in the same order).
local function annotate(messages)
  api.nvim_buf_clear_namespace(S.buf, ns_status, 0, -1)
  local replies = {}
  for _, m in ipairs(messages) do
    if m.role == "assistant" then
      table.insert(replies, m)
    end
  end
  local k = 0
  for i, line in ipairs(api.nvim_buf_get_lines(S.buf, 0, -1, false)) do
    if line == ASSISTANT then
      k = k + 1
      local m = replies[k]
      if not m then
        return
      end
      set_note(i - 1, usage_text(m.provider, m.model, not rpc.is_nil(m.usage) and m.usage or nil), "Comment")
    end
  end
end

local function loaded(ok)
  S.loading = false
  S.loaded = ok
  local waiting = S.waiting
  S.waiting = {}
  for _, cb in ipairs(waiting) do
    cb(ok)
  end
end

-- load shows session id (nil: the workspace has none yet) in the buffer.
local function load(id, cb)
  S.workspace = vim.fn.getcwd()
  if not id then
    S.session, S.messages = nil, {}
    set_buffer(render(nil, {}))
    api.nvim_buf_clear_namespace(S.buf, ns_status, 0, -1)
    cb(true)
    return
  end
  rpc.request("session/get", { sessionId = id }, function(err, res)
    if err then
      notify("tinychat: " .. tostring(err.message), levels.ERROR)
      cb(false)
      return
    end
    S.session, S.messages = id, res.messages
    if valid_buf() then
      set_buffer(render(res.session, res.messages))
      annotate(res.messages)
    end
    cb(true)
  end)
end

-- ensure_loaded calls cb(ok) once the buffer holds its session's history:
-- the session shown before, else the workspace's current one.
local function ensure_loaded(cb)
  ensure_buf()
  if S.loaded then
    cb(true)
    return
  end
  table.insert(S.waiting, cb)
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

-- open_now shows the chat buffer in a window (focusing it) and calls
-- cb(ok) once it holds its session's history.
local function open_now(cb)
  ensure_buf()
  show()
  ensure_loaded(cb)
end

-- open is :TinyChat without a message outside the chat buffer. A chat
-- that holds its session is shown at once, even while commands wait.
function M.open()
  if S.loaded and valid_buf() then
    show()
    return
  end
  M.enqueue(function(done)
    open_now(done)
  end)
end

-- show_session shows session id with its history, then calls cb(ok). It
-- is for commands in flight; open_session queues one.
function M.show_session(id, cb)
  ensure_buf()
  show()
  S.loading, S.loaded = true, false
  table.insert(S.waiting, cb or function() end)
  load(id, loaded)
end

function M.open_session(id)
  M.enqueue(function(done)
    M.show_session(id, done)
  end)
end

-- show_new shows res, a session just made, empty.
local function show_new(res)
  ensure_buf()
  show()
  S.session, S.messages = res.id, {}
  set_buffer(render(res, {}))
  api.nvim_buf_clear_namespace(S.buf, ns_status, 0, -1)
  S.workspace = vim.fn.getcwd()
  loaded(true)
end

-- new starts a new session (it becomes the workspace's current one) and
-- shows it, empty.
function M.new()
  M.enqueue(function(done)
    rpc.request("session/new", {}, function(err, res)
      if err then
        notify("tinychat: " .. tostring(err.message), levels.ERROR)
      else
        show_new(res)
      end
      done()
    end)
  end)
end

-- forget drops the session shown (deleted, or of another workspace): the
-- buffer shows the workspace's current one, now if a window shows it,
-- else when next opened. cb(ok) follows.
function M.forget(cb)
  S.session, S.loaded, S.messages = nil, false, {}
  if valid_buf() and #windows() > 0 then
    ensure_loaded(cb)
  else
    cb(true)
  end
end

-- switch_workspace follows Neovim's working directory: the daemon's
-- workspace is the directory it started in, so a daemon of another one
-- stops (the next request starts one in the new directory) and the chat
-- shows the new workspace's current session.
local function switch_workspace(done)
  local cwd = vim.fn.getcwd()
  local ws = rpc.workspace or S.workspace
  if ws == nil or ws == cwd then
    done()
    return
  end
  S.workspace = cwd
  if rpc.running() and rpc.workspace ~= cwd then
    rpc.on_exit(function()
      vim.schedule(function()
        M.forget(done)
      end)
    end)
    rpc.stop()
    return
  end
  M.forget(done)
end

api.nvim_create_autocmd("DirChanged", {
  group = api.nvim_create_augroup("tinychat_chat", { clear = true }),
  callback = function()
    M.enqueue(switch_workspace)
  end,
})

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

-- busy_elsewhere tells whether win is the current window in a mode other
-- than Normal (typing, selecting): its cursor is the user's, never moved.
local function busy_elsewhere(win)
  return win == api.nvim_get_current_win() and api.nvim_get_mode().mode ~= "n"
end

-- started notes that something of the reply has come: the progress note
-- on its heading goes.
local function started(turn)
  if turn.started then
    return
  end
  turn.started = true
  if turn.mark_status and turn.buf == S.buf and valid_buf() then
    api.nvim_buf_del_extmark(S.buf, ns_status, turn.mark_status)
    turn.mark_status = nil
  end
  status_changed()
end

-- append adds text at the end of the reply. Only windows whose cursor is
-- on the reply's last line (in Normal mode) follow it; every other cursor
-- stays on its text, which nvim_buf_set_text does not move. After a tool
-- call the text starts a block of its own once it has more than blanks,
-- without the blanks that lead it (as the export shows it).
local function append(turn, text)
  turn.text = turn.text .. text
  if text ~= "" then
    started(turn)
    status_grew()
  end
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
    if api.nvim_win_get_cursor(win)[1] - 1 == row and not busy_elsewhere(win) then
      table.insert(follow, win)
    end
  end
  set_text(row, col, row, col, split(text))
  local last = mark_pos(turn.mark_end)[1] + 1
  for _, win in ipairs(follow) do
    api.nvim_win_set_cursor(win, { last, 0 })
  end
end

-- replace puts text (lines, as nvim_buf_set_text takes them) in place of
-- the chat buffer's text from row, col to end_row, end_col. Cursors on
-- later lines stay on their text (Neovim moves them with it); one on the
-- last line, after the end, stays after the new end.
local function replace(row, col, end_row, end_col, text)
  local keep = {}
  for _, win in ipairs(windows()) do
    local cur = api.nvim_win_get_cursor(win)
    if cur[1] - 1 == end_row and cur[2] >= end_col and not busy_elsewhere(win) then
      keep[win] = cur[2] - end_col
    end
  end
  set_text(row, col, end_row, end_col, text)
  local last_row = row + #text - 1
  local last_col = #text[#text] + (#text == 1 and col or 0)
  for win, off in pairs(keep) do
    api.nvim_win_set_cursor(win, { last_row + 1, last_col + off })
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
  if text ~= "" then
    started(turn)
  end
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
  started(turn)
  if turn.buf ~= S.buf or not valid_buf() then
    return
  end
  answered(turn)
  render_answer(turn)
end)

-- A retry of the reply's provider request (chat/retry): shown on the
-- reply's heading while nothing of it has come, and in the statusline.
rpc.on("chat/retry", function(p)
  local turn = S.turn
  if not turn or p.requestId ~= turn.id or turn.started then
    return
  end
  local wait = tonumber(p.wait)
  turn.retry = {
    attempt = tonumber(p.attempt) or ((turn.retry and turn.retry.attempt or 0) + 1),
    wait = wait and (wait < 1 and string.format("%dms", math.floor(wait * 1000 + 0.5)) or string.format("%.1fs", wait)),
    error = type(p.error) == "string" and p.error ~= "" and p.error or nil,
  }
  if turn.buf == S.buf and valid_buf() then
    local text = string.format("retrying (attempt %d", turn.retry.attempt)
    if turn.retry.wait then
      text = text .. ", after " .. turn.retry.wait
    end
    text = text .. ")" .. (turn.retry.error and (": " .. turn.retry.error) or "")
    turn.mark_status = set_note(mark_pos(turn.mark_head)[1], text, "WarningMsg", turn.mark_status)
  end
  status_changed()
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
    S.messages = res.messages
    local lines = api.nvim_buf_get_lines(S.buf, 0, -1, false)
    for i, line in ipairs(lines) do
      if line:match("^## ") then
        local head = header(res.session, res.messages)
        table.insert(head, "")
        if not vim.deep_equal(head, vim.list_slice(lines, 1, i - 1)) then
          set_lines(0, i - 1, head)
        end
        return
      end
    end
  end)
end

-- refresh_header rewrites the title and providers lines from the store,
-- as after a rename.
M.refresh_header = refresh_header

-- fire_done runs the User TinyChatDone autocommands, with info as their
-- data where Neovim passes data (0.8 and later); M.last holds it too.
local function fire_done(info)
  S.last = info
  local opts = { pattern = "TinyChatDone", modeline = false, data = info }
  if not pcall(api.nvim_exec_autocmds, "User", opts) then
    opts.data = nil
    pcall(api.nvim_exec_autocmds, "User", opts)
  end
end

-- ending_of is the marker and warning of a reply stopped by reason, as
-- stopReason names it in the turn data of an error.
local function ending_of(reason)
  if reason == "cancelled" then
    return { INTERRUPTED }
  end
  return ENDINGS[reason]
end

-- finish ends turn with the chat/send answer: the reply as the daemon has
-- it, marked when interrupted, refused or filtered; or, when the daemon
-- did not keep the message, the message back at the top of the draft.
-- Only the reply's own lines are written (and only when they differ from
-- what streamed): the draft and the cursors in it are left alone.
local function finish(turn, err, result)
  if S.turn ~= turn then
    return
  end
  S.turn = nil
  require("tinychat.tools").forget(turn.id)
  local text, reasoning, interrupted, ending = turn.text, turn.reasoning, false, nil
  local info = { requestId = turn.id, sessionId = S.session }
  if err == nil then
    -- A truncated answer holds only the starts of the texts: the
    -- notifications brought all of them, and the store has them.
    if not result.truncated or #result.text > #text then
      text = result.text
    end
    if type(result.reasoning) == "string" and (not result.truncated or #result.reasoning > #reasoning) then
      reasoning = result.reasoning
    end
    ending = ENDINGS[result.stopReason]
    S.session = result.sessionId
    info.sessionId, info.messageId, info.stopReason = result.sessionId, result.messageId, result.stopReason
    info.provider, info.model, info.usage = result.provider, result.model, result.usage
    if result.truncated then
      notify("tinychat: the reply was too large for one answer of the daemon; what streamed is shown, and the session keeps it whole")
    end
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
    info.sessionId, info.messageId = S.session, type(data.messageId) == "string" and data.messageId or nil
    info.error = { code = err.code, message = err.message }
    local kept = text ~= "" or reasoning ~= "" or #turn.calls > 0
    if err.code == STORE_FULL and kept and type(data.stopReason) == "string" then
      -- The reply ended, maybe well, and the daemon could not save it.
      ending = ending_of(data.stopReason)
      info.stopReason = data.stopReason
      notify(
        "tinychat: "
          .. tostring(err.message)
          .. ". The reply is shown here but not yet saved: it is lost if the daemon exits before the disk has room, and until it is saved no new message is taken.",
        levels.ERROR
      )
    elseif err.code == STORE_FULL then
      notify(
        "tinychat: "
          .. tostring(err.message)
          .. ". Nothing was sent: your message is back in the draft. Free some disk space, then send it again.",
        levels.ERROR
      )
      interrupted = true
    else
      ending = { INTERRUPTED }
      info.stopReason = type(data.stopReason) == "string" and data.stopReason or "cancelled"
      if err.code ~= rpc.CANCELLED and err.code ~= rpc.EXITED and err.code ~= rpc.NOT_STARTED then
        notify(tostring(err.message), levels.ERROR)
        ending = ENDINGS.error
        info.stopReason = "error"
      end
      -- The daemon keeps a turn that failed or was cancelled once answer or
      -- reasoning had arrived, and drops one that had neither.
      interrupted = true
    end
  end
  if ending and ending[2] then
    notify(ending[2], levels.WARN)
  end
  -- A reply that made a tool call is kept, even without text.
  local dropped = interrupted and text == "" and reasoning == "" and #turn.calls == 0
  info.text = not dropped and text or nil
  local function done()
    status_changed()
    fire_done(info)
    turn.done()
  end
  if turn.buf ~= S.buf or not valid_buf() then
    -- The buffer was wiped while the reply streamed: show what is stored.
    S.loaded = false
    if valid_buf() and S.session then
      S.loading = true
      load(S.session, loaded)
    end
    done()
    return
  end
  if turn.mark_status then
    api.nvim_buf_del_extmark(S.buf, ns_status, turn.mark_status)
  end

  if dropped then
    -- Not stored: the turn goes, and the message waits at the top of the
    -- draft, ready to send again.
    local lines = api.nvim_buf_get_lines(S.buf, 0, -1, false)
    local heading = mark_pos(turn.mark_draft)[1]
    if lines[heading + 1] ~= YOU then
      heading = (draft_heading(lines) or (#lines + 1)) - 1
    end
    local message = split(turn.message)
    if heading >= #lines then
      local out = { YOU, "" }
      vim.list_extend(out, message)
      set_lines(#lines, #lines, out)
    elseif draft_lines(lines, heading + 1) == "" then
      set_lines(heading + 1, -1, vim.list_extend({ "" }, message))
    else
      table.insert(message, "")
      set_lines(heading + 2, heading + 2, message)
    end
    set_lines(mark_pos(turn.mark_turn)[1], heading, {})
  else
    local start = mark_pos(turn.mark_body)[1]
    local e = mark_pos(turn.mark_end)
    -- The reasoning fold stays as each window had it once the answer had
    -- folded it; a reply that never got to an answer folds it now. So do
    -- the tool calls' folds.
    local closed = turn.answered and turn.mark_think and folds_closed(start) or true
    local calls_closed = call_folds(turn)
    local out = {}
    local heads = assistant_blocks(out, reasoning, text, ending and ending[1], turn.calls)
    if #out == 0 then
      out = { "" }
    end
    local shown = api.nvim_buf_get_lines(S.buf, start, e[1] + 1, false)
    shown[#shown] = shown[#shown]:sub(1, e[2])
    if not vim.deep_equal(shown, out) then
      replace(start, 0, e[1], e[2], out)
    end
    if out[1] == OPEN then
      set_folds(start, closed)
    end
    for i, c in ipairs(turn.calls) do
      if str(c.output) ~= "" then
        set_folds(start + heads[i] - 1, calls_closed[i] or true)
      end
    end
    set_note(mark_pos(turn.mark_head)[1], usage_text(info.provider, info.model, info.usage), "Comment")
  end
  local marks = { turn.mark_turn, turn.mark_head, turn.mark_body, turn.mark_start, turn.mark_end, turn.mark_draft }
  table.insert(marks, turn.mark_think)
  for _, c in ipairs(turn.calls) do
    table.insert(marks, c.mark)
  end
  for _, mark in ipairs(marks) do
    api.nvim_buf_del_extmark(S.buf, ns, mark)
  end
  -- A daemon that has gone is restarted by the user's next command only.
  local gone = err and (err.code == rpc.EXITED or err.code == rpc.NOT_STARTED)
  if not gone and not dropped then
    refresh_header()
  end
  done()
end

-- start_turn puts the message and an empty reply above the draft section
-- (adding one if the buffer lost it), leaving the draft as it is.
local function start_turn(message, context)
  local lines = api.nvim_buf_get_lines(S.buf, 0, -1, false)
  local heading = draft_heading(lines)
  if not heading then
    local add = {}
    if #lines > 0 and lines[#lines] ~= "" then
      table.insert(add, "")
    end
    vim.list_extend(add, { YOU, "", "" })
    set_lines(#lines, #lines, add)
    lines = api.nvim_buf_get_lines(S.buf, 0, -1, false)
    heading = #lines - 1
  end
  local row = heading - 1 -- the draft heading, 0-based: the turn goes there
  local out = {}
  if row > 0 and lines[row] ~= "" then
    table.insert(out, "")
  end
  user_blocks(out, message, context)
  block(out, ASSISTANT)
  local head = row + #out - 1
  -- A blank line, the reply's line, the blank line before the draft.
  vim.list_extend(out, { "", "", "" })
  set_lines(row, row, out)
  local reply = row + #out - 2
  local function mark(r, gravity)
    return api.nvim_buf_set_extmark(S.buf, ns, r, 0, { right_gravity = gravity })
  end
  local turn = {
    buf = S.buf,
    message = message,
    text = "",
    reasoning = "",
    answer = { seq = 0, early = {} },
    thinking = { seq = 0, early = {} },
    started = false, -- answer, reasoning or a tool call has arrived
    answered = false, -- non-blank answer text or a tool call has arrived
    retry = nil, -- the last retry of the provider request: {attempt, wait, error}
    -- Tool calls: {id, name, server, arguments, status, output, textOffset,
    -- mark (its first line), folded (shown with an output)}, in order.
    calls = {},
    seg_at = 0, -- where the answer's text after the last call starts
    seg_shown = false, -- that text is shown (it has more than blanks)
    mark_think = nil, -- the end of the reasoning shown, once some is
    mark_turn = mark(row, false), -- where the turn's lines start
    mark_head = mark(head, false), -- the "## Assistant" heading
    -- The reply: reasoning from mark_body, answer from mark_start.
    mark_body = mark(reply, false),
    mark_start = mark(reply, false),
    mark_end = mark(reply, true),
    mark_draft = mark(row + #out, false), -- the draft's heading
  }
  turn.mark_status = set_note(head, "waiting for the reply…", "Comment")
  -- The window the message was sent from goes to the end, to follow the
  -- reply; other windows stay where they are.
  local win = api.nvim_get_current_win()
  if api.nvim_win_get_buf(win) == S.buf and not busy_elsewhere(win) then
    api.nvim_win_set_cursor(win, { api.nvim_buf_line_count(S.buf), 0 })
  end
  return turn
end

-- send_now sends message (nil: the draft under the last "## You") with
-- context items, in the chat buffer, which holds its session; done() is
-- called once the reply has ended.
local function send_now(message, context, done)
  if S.turn then
    notify("tinychat: a reply is still streaming (:TinyChatCancel stops it)", levels.WARN)
    done()
    return
  end
  local lines = api.nvim_buf_get_lines(S.buf, 0, -1, false)
  if message == nil then
    local heading = draft_heading(lines)
    local draft = heading and draft_lines(lines, heading) or ""
    if draft == "" then
      notify("tinychat: nothing to send: write your message under the last " .. YOU, levels.WARN)
      done()
      return
    end
    message = draft
    set_lines(heading, -1, { "", "" })
  end
  local turn = start_turn(message, context)
  turn.done = done
  S.turn = turn
  status_changed()
  turn.id = rpc.request("chat/send", {
    message = message,
    sessionId = S.session,
    context = context,
    provider = S.provider,
    model = S.model,
  }, function(err, result)
    finish(turn, err, result)
  end)
end

-- send sends message (nil: the draft under the last "## You") with
-- context items, showing the chat buffer, once the commands before it are
-- done.
function M.send(message, context)
  M.enqueue(function(done)
    open_now(function(ok)
      if not ok or not valid_buf() then
        done()
        return
      end
      send_now(message, context, done)
    end)
  end)
end

-- send_draft sends the text under the last "## You" heading.
function M.send_draft()
  M.send(nil)
end

-- cancel stops the reply in progress; the daemon keeps what arrived,
-- marked interrupted. It does not wait for the commands before it.
function M.cancel()
  local turn = S.turn
  if not turn or not turn.id then
    -- A command stuck (a picker that never answered) would hold up every
    -- later one: drop them all.
    local n = M.pending()
    S.queue, S.running = {}, false
    if n > 0 then
      notify(string.format("tinychat: no reply in progress; %d command%s dropped", n, n == 1 and "" or "s"))
      status_changed()
    else
      notify("tinychat: no reply in progress")
    end
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

-- messages are the stored messages of the session shown, as last read.
function M.messages()
  return S.messages or {}
end

-- bufnr is the chat buffer, or nil.
function M.bufnr()
  return valid_buf() and S.buf or nil
end

-- streaming tells whether a reply is in progress.
function M.streaming()
  return S.turn ~= nil
end

-- last is what the last reply that ended left: {requestId, sessionId,
-- messageId, stopReason, provider, model, usage, text, error}.
function M.last()
  return S.last
end

local function human_size(n)
  if n < 1000 then
    return n .. " B"
  end
  return string.format("%.1f kB", n / 1000)
end

-- status is the statusline component: what the reply in progress is
-- doing (waiting, retrying, streaming and how much has come) and how many
-- commands wait; "" when nothing happens.
function M.status()
  local turn = S.turn
  local s = ""
  if turn then
    if turn.started then
      s = "tinychat: streaming " .. human_size(#turn.text + #turn.reasoning)
    elseif turn.retry then
      s = string.format("tinychat: retry %d", turn.retry.attempt)
    else
      s = "tinychat: waiting"
    end
  end
  if #S.queue > 0 then
    s = (s == "" and "tinychat:" or s) .. string.format(" (%d queued)", #S.queue)
  end
  return s
end

-- goto_message puts the cursor of the chat window on the heading of
-- message id of the session shown (its messages and the headings go in
-- the same order). It tells whether it found it.
function M.goto_message(id)
  local k
  for i, m in ipairs(S.messages or {}) do
    if m.id == id then
      k = i
    end
  end
  if not k or not valid_buf() then
    return false
  end
  local n = 0
  for i, line in ipairs(api.nvim_buf_get_lines(S.buf, 0, -1, false)) do
    if line == YOU or line == ASSISTANT then
      n = n + 1
      if n == k then
        local win = vim.fn.bufwinid(S.buf)
        if win ~= -1 then
          api.nvim_win_set_cursor(win, { i, 0 })
        end
        return true
      end
    end
  end
  return false
end

function M.set_model(provider, model)
  S.provider, S.model = provider, model
end

function M.get_model()
  return S.provider, S.model
end

return M

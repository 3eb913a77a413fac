-- Headless tests of the Neovim plugin against the real daemon. Run by
-- editors/nvim/test.sh, which builds the daemon and the fake provider and
-- sets TINYCHAT_TEST_DAEMON, TINYCHAT_TEST_DIR (the workspace),
-- TINYCHAT_DB, TINYCHAT_ECHO_DELAY and OPENAI_BASE_URL/OPENAI_API_KEY.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
local H = dofile(here .. "helpers.lua")
local uv = vim.uv or vim.loop
local test, eq, truthy, wait = H.test, H.eq, H.truthy, H.wait

local daemon = assert(os.getenv("TINYCHAT_TEST_DAEMON"), "TINYCHAT_TEST_DAEMON is not set: run test.sh")
local workspace = uv.fs_realpath(assert(os.getenv("TINYCHAT_TEST_DIR")))
local db = assert(os.getenv("TINYCHAT_DB"))
vim.cmd("cd " .. vim.fn.fnameescape(workspace))

-- -u NONE loads no plugins: load ours as a plugin manager would.
vim.cmd("filetype on")
vim.cmd("runtime! plugin/tinychat.lua")
require("tinychat").setup({ cmd = { daemon }, provider = "echo" })

local rpc = require("tinychat.rpc")
local chat = require("tinychat.chat")
vim.o.showmode = false

-- Every notification is recorded, not shown.
local notes = {}
vim.notify = function(msg, level)
  table.insert(notes, { msg = msg, level = level })
end
local function noted(pattern, level)
  for _, n in ipairs(notes) do
    if n.msg:find(pattern) and (level == nil or n.level == level) then
      return n
    end
  end
end

local function use_model(provider)
  vim.cmd("TinyChatModel " .. provider)
  wait(function()
    return (chat.get_model()) == provider
  end, "the provider to be " .. provider)
end

-- send runs :TinyChat message and waits for the whole reply.
local function send(message)
  vim.cmd("TinyChat " .. message)
  wait(function()
    return chat.streaming()
  end, "the reply to start")
  H.wait_idle()
end

local function count_assistant(lines)
  local n = 0
  for _, l in ipairs(lines) do
    if l == "## Assistant" then
      n = n + 1
    end
  end
  return n
end

local first_session -- the session of the first tests

test(":TinyChat opens an empty markdown chat buffer in a split and starts the daemon", function()
  eq(1, #vim.api.nvim_list_wins(), "windows before")
  vim.cmd("TinyChat")
  wait(function()
    return rpc.server ~= nil
  end, "the daemon's initialize answer")
  eq(2, #vim.api.nvim_list_wins(), "windows after")
  local buf = vim.api.nvim_get_current_buf()
  eq(chat.bufnr(), buf, "the chat buffer is current")
  eq("markdown", vim.bo[buf].filetype, "filetype")
  eq({ "# Untitled session", "", "## You", "", "" }, H.chat_lines(), "an empty chat")
  eq("tinychat", rpc.server.serverInfo.name, "serverInfo.name")
  H.wait_idle()
  -- Focusing, not splitting again.
  vim.cmd("wincmd p")
  vim.cmd("TinyChat")
  eq(2, #vim.api.nvim_list_wins(), "windows after a second :TinyChat")
  eq(chat.bufnr(), vim.api.nvim_get_current_buf(), "the chat buffer is focused again")
end)

test(":TinyChat message streams the reply into the buffer, laid out like the markdown export", function()
  send("hello tiny world")
  eq("hello tiny world", H.last_reply(), "the echoed reply")
  wait(function()
    return H.chat_lines()[1] == "# hello tiny world"
  end, "the title from the store")
  first_session = truthy(chat.session_id(), "a session id")
  local stored = H.call("session/get", { sessionId = first_session })
  eq(workspace, stored.session.workspace, "the workspace is Neovim's cwd")
  eq({ "user", "hello tiny world" }, { stored.messages[1].role, stored.messages[1].content }, "stored question")
  eq({ "assistant", "hello tiny world", "echo" }, {
    stored.messages[2].role,
    stored.messages[2].content,
    stored.messages[2].provider,
  }, "stored reply")
  local export = H.call("session/export", { sessionId = first_session, format = "markdown" }).content
  eq(export, table.concat(H.without_draft(H.chat_lines()), "\n") .. "\n", "buffer = markdown export + draft")
  local n = #H.chat_lines()
  eq({ n, 0 }, vim.api.nvim_win_get_cursor(0), "the cursor waits on the draft line")
end)

test("deltas are appended in order while the reply streams (slow 20)", function()
  use_model("openai")
  local want = {}
  for i = 0, 19 do
    table.insert(want, "w" .. i)
  end
  want = table.concat(want, " ")
  vim.cmd("TinyChat slow 20")
  local seen = {}
  local followed = true
  wait(function()
    if chat.streaming() then
      local reply = H.last_reply()
      if reply ~= "" and reply ~= seen[#seen] then
        table.insert(seen, reply)
        local win = vim.fn.bufwinid(chat.bufnr())
        if vim.api.nvim_win_get_cursor(win)[1] ~= #H.chat_lines() then
          followed = false
        end
      end
      return false
    end
    return #seen > 0
  end, "the slow reply")
  truthy(#seen >= 4, "at least 4 partial replies seen while streaming, saw " .. #seen)
  truthy(seen[1] ~= want, "the first partial reply is not the whole reply")
  for i, s in ipairs(seen) do
    eq(s, want:sub(1, #s), "partial reply " .. i .. " is a prefix of the reply")
    if i > 1 then
      truthy(#s > #seen[i - 1], "partial reply " .. i .. " grew")
    end
  end
  eq(want, H.last_reply(), "the whole reply")
  truthy(followed, "the window followed the end while streaming")
  eq(#H.chat_lines(), vim.api.nvim_win_get_cursor(0)[1], "the cursor is at the end")
end)

test("the window stays where the user moved it while a reply streams; a message sent meanwhile waits for it", function()
  vim.cmd("TinyChat slow 15")
  wait(function()
    return H.last_reply():find("w1", 1, true) ~= nil
  end, "two deltas")
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  local at_end
  vim.api.nvim_create_autocmd("User", {
    pattern = "TinyChatDone",
    once = true,
    callback = function()
      at_end = { vim.api.nvim_win_get_cursor(0), H.last_reply() }
    end,
  })
  -- The chat is shown at once, though a reply streams.
  vim.cmd("wincmd p")
  vim.cmd("TinyChat")
  eq(chat.bufnr(), vim.api.nvim_get_current_buf(), "focused while streaming")
  -- One reply at a time: the next waits for it.
  notes = {}
  vim.cmd("TinyChat not now")
  truthy(noted("runs once it ends", vim.log.levels.INFO), "told it waits: " .. vim.inspect(notes))
  H.wait_idle()
  truthy(at_end, "User TinyChatDone ran")
  eq({ 1, 0 }, at_end[1], "the cursor did not move while the reply streamed")
  truthy(at_end[2]:find("w14", 1, true), "the first reply ended: " .. at_end[2])
  eq("not now", H.last_reply(), "then the message sent meanwhile went")
  vim.cmd("normal! G")
end)

test("a second turn continues the session with its history", function()
  local before = #H.messages(first_session)
  send("second turn please")
  eq(first_session, chat.session_id(), "same session")
  local msgs = H.messages(first_session)
  eq(before + 2, #msgs, "two more messages")
  eq("hello tiny world", msgs[1].content, "the first message is still first")
  eq({ "user", "second turn please" }, { msgs[#msgs - 1].role, msgs[#msgs - 1].content }, "the new question")
  eq("second turn please", msgs[#msgs].content, "the new reply")
  eq("second turn please", H.last_reply(), "the new reply in the buffer")

  -- Closed and reopened: the same buffer; wiped and reopened: the same
  -- session rendered again from the store.
  local lines = H.chat_lines()
  vim.cmd("close")
  eq(1, #vim.api.nvim_list_wins(), "the chat window closed")
  vim.cmd("TinyChat")
  eq(lines, H.chat_lines(), "the same chat after :close and :TinyChat")
  vim.cmd("bwipeout " .. chat.bufnr())
  vim.cmd("TinyChat")
  wait(function()
    return vim.deep_equal(lines, H.chat_lines())
  end, "the chat rendered again from the store after :bwipeout")
  eq(2, #vim.api.nvim_list_wins(), "windows")
end)

test(":TinyChat without a message sends the draft under the last ## You", function()
  local buf = chat.bufnr()
  local n = vim.api.nvim_buf_line_count(buf)
  eq("## You", vim.api.nvim_buf_get_lines(buf, n - 3, n - 2, false)[1], "the draft heading")
  vim.api.nvim_buf_set_lines(buf, n - 1, n, false, { "written in the", "draft section" })
  vim.cmd("TinyChat")
  H.wait_idle()
  local msgs = H.messages(first_session)
  eq("written in the\ndraft section", msgs[#msgs - 1].content, "the stored question")
  eq("written in the\ndraft section", H.last_reply(), "the reply")
  -- The send key does the same.
  local n2 = vim.api.nvim_buf_line_count(buf)
  vim.api.nvim_buf_set_lines(buf, n2 - 1, n2, false, { "sent with the key" })
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<CR>", true, false, true), "mx", false)
  H.wait_idle()
  msgs = H.messages(first_session)
  eq("sent with the key", msgs[#msgs - 1].content, "the question sent with <CR>")
end)

test(":'<,'>TinyChat sends the selected lines as context", function()
  local file = workspace .. "/sample.lua"
  H.write_file(file, "local a = 1\nlocal b = 2\nlocal c = 3\nreturn a + b + c\n")
  vim.cmd("wincmd p")
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  eq("lua", vim.bo.filetype, "filetype of the source")
  vim.cmd("normal! 2GVj")
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<Esc>", true, false, true), "x", false)
  eq({ 2, 3 }, { vim.fn.line("'<"), vim.fn.line("'>") }, "the visual marks")
  vim.cmd("'<,'>TinyChat explain these lines")
  eq(chat.bufnr(), vim.api.nvim_get_current_buf(), "the chat buffer is focused")
  wait(function()
    return chat.streaming()
  end, "the reply to start")
  H.wait_idle()
  local msgs = H.messages(first_session)
  local q = msgs[#msgs - 1]
  eq("explain these lines", q.content, "the question")
  eq(1, #q.context, "one context item")
  local c = q.context[1]
  eq(vim.uri_from_fname(file), c.uri, "uri")
  eq("lua", c.languageId, "languageId")
  eq({ start = { line = 1, character = 0 }, ["end"] = { line = 3, character = 0 } }, c.range, "range")
  eq("local b = 2\nlocal c = 3\n", c.text, "text")
  local text = H.chat_text()
  truthy(text:find("sample.lua (lines 2-3)\n```lua\nlocal b = 2\nlocal c = 3\n```\n\nexplain these lines", 1, true), "the context is shown in the buffer:\n" .. text)
  -- echo replies with the whole prompt: the context went to the model.
  local reply = H.last_reply()
  truthy(reply:find("local b = 2\nlocal c = 3\n```\n\nexplain these lines$"), "the context in the prompt:\n" .. reply)

  -- A range without a message asks for one.
  local input = vim.ui.input
  vim.ui.input = function(_, on_confirm)
    on_confirm("and the first line?")
  end
  vim.cmd("wincmd p")
  local ok, err = pcall(vim.cmd, "1TinyChat")
  vim.ui.input = input
  assert(ok, err)
  wait(function()
    return chat.streaming()
  end, "the reply to start")
  H.wait_idle()
  msgs = H.messages(first_session)
  q = msgs[#msgs - 1]
  eq("and the first line?", q.content, "the question typed at the prompt")
  eq({ "local a = 1\n", 0, 1 }, { q.context[1].text, q.context[1].range.start.line, q.context[1].range["end"].line }, "its context")
end)

test(":TinyChatCancel stops the reply mid-stream and marks it interrupted", function()
  use_model("echo")
  local words = {}
  for i = 1, 40 do
    table.insert(words, "word" .. i)
  end
  vim.cmd("TinyChat " .. table.concat(words, " "))
  wait(function()
    return chat.streaming() and H.last_reply():find("word3 ", 1, true) ~= nil
  end, "three words")
  vim.cmd("TinyChatCancel")
  H.wait_idle()
  local lines = H.chat_lines()
  local reply = H.last_reply()
  local partial = reply:match("^(.-)\n\n%*%(interrupted%)%*$")
  truthy(partial, "the reply ends with *(interrupted)*: " .. reply)
  truthy(partial:find("^word1 word2 word3"), "the partial reply: " .. partial)
  truthy(not partial:find("word40", 1, true), "the reply was cut short: " .. partial)
  eq({ "*(interrupted)*", "", "## You", "", "" }, vim.list_slice(lines, #lines - 4), "the marker, then a new draft")
  local msgs = H.messages(first_session)
  eq(true, msgs[#msgs].interrupted, "the stored reply is interrupted")
  eq(vim.trim(partial), vim.trim(msgs[#msgs].content), "the stored reply is the partial one")
end)

test("a provider error reaches vim.notify and the message goes back to the draft", function()
  use_model("openai")
  local before = #H.messages(first_session)
  local headings = count_assistant(H.chat_lines())
  notes = {}
  vim.cmd("TinyChat error 401 bad key")
  wait(function()
    return noted("401", vim.log.levels.ERROR) ~= nil
  end, "an error notification")
  H.wait_idle()
  eq("openai: 401 test_error: bad key", noted("401").msg, "the daemon's message")
  local lines = H.chat_lines()
  eq({ "## You", "", "error 401 bad key" }, vim.list_slice(lines, #lines - 2), "the message back in the draft")
  eq(headings, count_assistant(lines), "no ## Assistant heading added")
  local export = H.call("session/export", { sessionId = first_session, format = "markdown" }).content
  local emptied = vim.list_slice(lines, 1, #lines - 1)
  table.insert(emptied, "")
  eq(export, table.concat(H.without_draft(emptied), "\n") .. "\n", "buffer = export + draft")
  eq(before, #H.messages(first_session), "nothing stored")
  notes = {}
  vim.cmd("TinyChatModel nosuch")
  wait(function()
    return noted("unknown provider nosuch", vim.log.levels.ERROR) ~= nil
  end, "an unknown provider error")
  eq("openai", (chat.get_model()), "the provider did not change")
  -- Clear the draft for the next tests.
  vim.api.nvim_buf_set_lines(chat.bufnr(), #lines - 1, #lines, false, { "" })
  use_model("echo")
end)

local second_session

test(":TinyChatNew starts a new session in an empty buffer", function()
  vim.cmd("TinyChatNew")
  wait(function()
    return chat.session_id() ~= first_session
  end, "a new session")
  second_session = chat.session_id()
  eq({ "# Untitled session", "", "## You", "", "" }, H.chat_lines(), "an empty chat")
  local list = H.call("session/list", {}).sessions
  eq(2, #list, "two sessions")
  for _, s in ipairs(list) do
    eq(s.id == second_session, s.current, "current flag of " .. s.id)
  end
  send("beta session here")
  eq(second_session, chat.session_id(), "the message went to the new session")
  eq(2, #H.messages(second_session), "stored in the new session")
  wait(function()
    return H.chat_lines()[1] == "# beta session here"
  end, "the new title")
  truthy(not H.chat_text():find("hello tiny world", 1, true), "no history of the first session")
end)

test(":TinyChatSessions picks a session with vim.ui.select and shows its history", function()
  local select = vim.ui.select
  local items, labels
  vim.ui.select = function(list, opts, on_choice)
    items = list
    labels = vim.tbl_map(opts.format_item, list)
    for _, s in ipairs(list) do
      if s.id == first_session then
        on_choice(s)
      end
    end
  end
  local ok, err = pcall(function()
    vim.cmd("TinyChatSessions")
    wait(function()
      return chat.session_id() == first_session and H.chat_text():find("hello tiny world", 1, true) ~= nil
    end, "the first session in the buffer")
  end)
  vim.ui.select = select
  assert(ok, err)
  eq({ second_session, first_session }, vim.tbl_map(function(s)
    return s.id
  end, items), "the sessions offered, newest first")
  truthy(labels[1]:find("beta session here", 1, true), "a label shows the title: " .. labels[1])
  truthy(not H.chat_text():find("beta session here", 1, true), "nothing of the other session")
  local export = H.call("session/export", { sessionId = first_session, format = "markdown" }).content
  truthy(export:find("*(interrupted)*", 1, true) and export:find("```lua", 1, true), "the export has everything")
  eq(export, table.concat(H.without_draft(H.chat_lines()), "\n") .. "\n", "buffer = markdown export + draft")
  -- The reopened session goes on.
  send("back to the first")
  eq(first_session, chat.session_id(), "same session")
  local msgs = H.messages(first_session)
  eq("back to the first", msgs[#msgs].content, "stored there")
end)

test(":TinyChatExport writes each format to a file, or opens a buffer", function()
  local msgs = H.messages(first_session)
  local text = {}
  for _, m in ipairs(msgs) do
    table.insert(text, (m.role == "user" and "You: " or "LLM: ") .. m.content:gsub("[\r\n]+$", ""))
  end
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, "p")
  local function export(format)
    local file = dir .. "/chat." .. format
    vim.cmd("TinyChatExport " .. format .. " " .. vim.fn.fnameescape(file))
    wait(function()
      return uv.fs_stat(file) ~= nil and noted("exported to " .. vim.pesc(file)) ~= nil
    end, format .. " export")
    return H.read_file(file)
  end
  eq(table.concat(text, "\n\n") .. "\n", export("text"), "text export")
  local md = export("markdown")
  eq(md, table.concat(H.without_draft(H.chat_lines()), "\n") .. "\n", "markdown export = the chat buffer")
  local json = vim.json.decode(export("json"))
  eq(first_session, json.session.id, "json session id")
  eq(#msgs, #json.messages, "json messages")
  local function contents(list)
    return vim.tbl_map(function(m)
      return m.role .. ": " .. m.content
    end, list)
  end
  eq(contents(msgs), contents(json.messages), "json messages in order")

  local chat_win = vim.api.nvim_get_current_win()
  vim.cmd("TinyChatExport markdown")
  wait(function()
    return vim.api.nvim_get_current_win() ~= chat_win
  end, "an export buffer")
  local buf = vim.api.nvim_get_current_buf()
  eq("markdown", vim.bo[buf].filetype, "export buffer filetype")
  eq(md, table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") .. "\n", "export buffer content")
  vim.cmd("close")
  vim.fn.delete(dir, "rf")
end)

test("the daemon dying is reported and the next command starts a new one", function()
  use_model("openai")
  local pid = truthy(rpc.pid(), "a daemon pid")
  local before = #H.messages(first_session)
  notes = {}
  vim.cmd("TinyChat slow 40")
  wait(function()
    return H.last_reply():find("w2 ", 1, true) ~= nil
  end, "a few deltas")
  eq(0, uv.kill(pid, 9), "kill -9 " .. pid)
  wait(function()
    return not rpc.running()
  end, "the daemon to be gone")
  H.wait_idle()
  truthy(noted("daemon exited", vim.log.levels.WARN), "the user was told: " .. vim.inspect(notes))
  truthy(H.last_reply():find("\n\n%*%(interrupted%)%*$"), "the cut reply is marked: " .. H.last_reply())
  send("after the restart")
  local newpid = truthy(rpc.pid(), "a new daemon")
  truthy(newpid ~= pid, "a new pid")
  eq("after the restart", H.last_reply(), "the reply from the new daemon")
  local msgs = H.messages(first_session)
  eq("after the restart", msgs[#msgs].content, "stored in the same session")
  truthy(#msgs >= before + 2, "stored")
  use_model("echo")
end)

test(":checkhealth tinychat reports the daemon version, the store and the providers", function()
  H.call("providers/list", {}) -- the daemon runs
  local version = rpc.server.serverInfo.version
  vim.cmd("silent checkhealth tinychat")
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  vim.cmd("bwipeout")
  truthy(text:find("tinychat " .. version, 1, true), "the version " .. version .. " in:\n" .. text)
  truthy(text:find(db, 1, true), "the store path " .. db .. " in:\n" .. text)
  truthy(text:find("openai: configured", 1, true), "openai is configured in:\n" .. text)
  truthy(text:find("running (pid " .. rpc.pid(), 1, true), "the running daemon in:\n" .. text)
  truthy(not text:find("ERROR", 1, true), "no error in:\n" .. text)
end)

test("leaving Neovim shuts the daemon down, saving the reply in progress", function()
  use_model("openai")
  vim.cmd("TinyChat slow 40")
  wait(function()
    return H.last_reply():find("w2 ", 1, true) ~= nil
  end, "a few deltas")
  local code
  rpc.on_exit(function(c)
    code = c
  end)
  notes = {}
  local start = uv.hrtime()
  vim.api.nvim_exec_autocmds("VimLeavePre", {})
  wait(function()
    return code ~= nil
  end, "the daemon to exit")
  truthy((uv.hrtime() - start) / 1e6 < 1500, "a quick shutdown")
  eq(0, code, "exit code after shutdown and exit")
  eq(nil, noted("daemon exited"), "no warning for an exit we asked for")
  H.wait_idle()
  local msgs = H.messages(first_session) -- starts a new daemon
  eq("slow 40", msgs[#msgs - 1].content, "the question was kept")
  eq(true, msgs[#msgs].interrupted, "the partial reply was saved as interrupted")
  truthy(msgs[#msgs].content:find("^w0 w1 w2 "), "the partial reply: " .. msgs[#msgs].content)
  rpc.stop({ wait = 2000 })
end)

test("a store the daemon cannot open is reported with the reason", function()
  local config = require("tinychat").config
  local cmd = config.cmd
  local bad = vim.fn.tempname()
  vim.fn.writefile({ "notes, not a database" }, bad)
  config.cmd = { daemon, "serve", "--db", bad }
  notes = {}
  vim.cmd("TinyChat hello")
  wait(function()
    return noted("daemon exited", vim.log.levels.WARN)
  end, "the daemon's exit to be reported")
  local note = noted("daemon exited", vim.log.levels.WARN)
  truthy(note.msg:find("not a tinychat database", 1, true), "the reason in: " .. note.msg)
  H.wait_idle()
  config.cmd = cmd
  vim.fn.delete(bad)
end)

-- Typed turns: the fake provider's "think N" streams N reasoning deltas
-- "t0 ".."tN-1 " then the answer "w0 ".."wN-1 "; "refuse" and "filter"
-- end with stopReason "refusal" and "content_filter".
local OPEN, CLOSE = "<details><summary>Reasoning</summary>", "</details>"
local REFUSED, FILTERED = "*(the model refused)*", "*(stopped by the provider's content filter)*"

local function words(prefix, n)
  local out = {}
  for i = 0, n - 1 do
    table.insert(out, prefix .. i .. " ")
  end
  return table.concat(out)
end

-- reply_lines are the lines of the last "## Assistant" section without
-- the blank lines around them, and the line number of the first.
local function reply_lines()
  local lines = H.chat_lines()
  local start
  for i = #lines, 1, -1 do
    if lines[i] == "## Assistant" then
      start = i
      break
    end
  end
  truthy(start, "an ## Assistant heading in the chat buffer")
  local body = {}
  for i = start + 1, #lines do
    if lines[i] == "## You" then
      break
    end
    table.insert(body, lines[i])
  end
  start = start + 1
  while body[1] == "" do
    table.remove(body, 1)
    start = start + 1
  end
  while body[#body] == "" do
    table.remove(body)
  end
  return body, start
end

-- split_reply parts a reply's lines into the reasoning block's (nil when
-- there is none) and the answer so far, trimmed.
local function split_reply(body)
  if body[1] ~= OPEN then
    return nil, vim.trim(table.concat(body, "\n"))
  end
  for i, l in ipairs(body) do
    if l == CLOSE then
      return vim.list_slice(body, 1, i), vim.trim(table.concat(vim.list_slice(body, i + 1), "\n"))
    end
  end
  return body, ""
end

-- fold_at is the fold at line lnum in the chat window: foldclosed() (lnum
-- when closed there, -1 when open or none) and foldlevel().
local function fold_at(lnum)
  local win = vim.fn.bufwinid(chat.bufnr())
  truthy(win ~= -1, "a window on the chat buffer")
  return vim.api.nvim_win_call(win, function()
    return { closed = vim.fn.foldclosed(lnum), level = vim.fn.foldlevel(lnum) }
  end)
end

-- pick_session opens session id with :TinyChatSessions.
local function pick_session(id)
  local select = vim.ui.select
  local picked = false
  vim.ui.select = function(list, _, on_choice)
    for _, s in ipairs(list) do
      if s.id == id then
        picked = true
        on_choice(s)
      end
    end
  end
  local ok, err = pcall(function()
    vim.cmd("TinyChatSessions")
    wait(function()
      return picked and chat.session_id() == id and not H.chat_text():find("^# Untitled")
    end, "session " .. id .. " in the buffer")
  end)
  vim.ui.select = select
  assert(ok, err)
end

local function export_of(id)
  return H.call("session/export", { sessionId = id, format = "markdown" }).content
end

local typed_session -- the session of the typed-turn tests
local typed_lines -- its chat buffer once they ran

test("reasoning streams above the answer, open, and folds away once the answer starts (think 15)", function()
  use_model("openai")
  vim.cmd("TinyChatNew")
  wait(function()
    local id = chat.session_id()
    return id ~= nil and id ~= first_session and id ~= second_session
  end, "a new session")
  typed_session = chat.session_id()
  local reasoning, answer = words("t", 15), words("w", 15)
  vim.cmd("TinyChat think 15")
  local open_seen, closed_seen, answers, problem = false, false, {}, nil
  local function check()
    local body, first = reply_lines()
    local block, a = split_reply(body)
    if not block then
      if a ~= "" then
        return "answer text and no reasoning block above it: " .. vim.inspect(body)
      end
      return
    end
    -- Streaming, the block is OPEN, "", the reasoning so far, "", CLOSE.
    local shown = block[3] or ""
    if #block ~= 5 or block[2] ~= "" or block[4] ~= "" or reasoning:sub(1, #shown) ~= shown then
      return "the reasoning block is not the reasoning so far: " .. vim.inspect(body)
    end
    if a:find("t%d") then
      return "reasoning in the answer: " .. vim.inspect(body)
    end
    local fold = fold_at(first)
    if fold.level ~= 1 or fold_at(first + 4).level ~= 1 then
      return "the reasoning block is not one fold: " .. vim.inspect(body)
    end
    if a == "" and shown:find("t3 ", 1, true) then
      open_seen = true
      if fold.closed ~= -1 then
        return "the reasoning is folded while it streams before any answer"
      end
    end
    if a ~= "" then
      if answers[#answers] ~= a then
        table.insert(answers, a)
      end
      closed_seen = true
      if fold.closed ~= first then
        return "the reasoning is still open once the answer started: foldclosed = " .. fold.closed
      end
    end
  end
  wait(function()
    if not chat.streaming() then
      return true
    end
    problem = problem or check()
    return false
  end, "the think 15 reply")
  H.wait_idle()
  eq(nil, problem, "while streaming")
  truthy(open_seen, "the reasoning was seen streaming, open, before the answer")
  truthy(closed_seen, "the answer was seen streaming, the reasoning folded")
  truthy(#answers >= 2, "at least 2 partial answers seen, saw " .. #answers)
  for i, a in ipairs(answers) do
    eq(a, vim.trim(answer):sub(1, #a), "partial answer " .. i .. " is a prefix of the answer")
  end

  local body, first = reply_lines()
  eq({ OPEN, "", reasoning, "", CLOSE, "", answer }, body, "the reply: the reasoning block, then the answer")
  local _, a = split_reply(body)
  eq(vim.trim(answer), a, "the answer is exactly w0 .. w14")
  eq({ first, 1 }, { fold_at(first).closed, fold_at(first).level }, "the reasoning is folded once the reply is done")
  eq(first, fold_at(first + 4).closed, "the fold holds the whole block")
  eq({ -1, 0 }, { fold_at(first + 6).closed, fold_at(first + 6).level }, "the answer is not folded")
  local msgs = H.messages(typed_session)
  local m = msgs[#msgs]
  eq({ answer, reasoning, "end" }, { m.content, m.reasoning, m.stopReason }, "the stored reply")
  -- The header is rewritten from the store after the reply; the fold stays.
  wait(function()
    return H.chat_lines()[1] == "# think 15"
  end, "the title from the store")
  body, first = reply_lines()
  eq(OPEN, body[1], "the reasoning block after the header refresh")
  eq(first, fold_at(first).closed, "the reasoning is still folded after the header refresh")
  eq(export_of(typed_session), table.concat(H.without_draft(H.chat_lines()), "\n") .. "\n", "buffer = markdown export + draft")
  -- It opens for reading.
  vim.api.nvim_win_call(vim.fn.bufwinid(chat.bufnr()), function()
    vim.cmd(first .. "foldopen")
  end)
  eq(-1, fold_at(first).closed, "the fold opens")
  use_model("echo")
end)

test("a refusal and a content filter are marked under the reply and notified", function()
  use_model("openai")
  notes = {}
  send("refuse")
  eq({ "I'm sorry, I can't help with that.", "", REFUSED }, (reply_lines()), "the refused reply")
  truthy(noted("refused", vim.log.levels.WARN), "a warning says the model refused: " .. vim.inspect(notes))
  notes = {}
  send("filter")
  eq({ "Partial ", "", FILTERED }, (reply_lines()), "the filtered reply")
  truthy(noted("content filter", vim.log.levels.WARN), "a warning names the content filter: " .. vim.inspect(notes))
  eq(nil, noted("refused"), "no refusal warning for the filtered reply")
  local msgs = H.messages(typed_session)
  eq({ "refusal", "content_filter" }, { msgs[#msgs - 2].stopReason, msgs[#msgs].stopReason }, "stored stop reasons")
  -- A plain reply has no marker, and no warning.
  notes = {}
  send("plain words")
  eq({ "plain words" }, vim.tbl_map(vim.trim, (reply_lines())), "a plain reply")
  eq({}, notes, "no notification for a plain reply")
  use_model("echo")
  wait(function()
    return #H.chat_lines() > 0 and export_of(typed_session) == table.concat(H.without_draft(H.chat_lines()), "\n") .. "\n"
  end, "buffer = markdown export + draft")
  typed_lines = H.chat_lines()
end)

test("a reply cancelled while it reasons keeps its reasoning, folded, marked interrupted", function()
  use_model("openai")
  vim.cmd("TinyChat think 60")
  wait(function()
    local block = split_reply((reply_lines()))
    return block and (block[3] or ""):find("t2 ", 1, true) ~= nil
  end, "some reasoning")
  vim.cmd("TinyChatCancel")
  H.wait_idle()
  local body, first = reply_lines()
  local block, a = split_reply(body)
  truthy(block, "the reasoning block is kept: " .. vim.inspect(body))
  truthy(block[3]:find("^t0 t1 t2 "), "the partial reasoning: " .. vim.inspect(body))
  eq("*(interrupted)*", a, "no answer, the interrupted marker")
  eq(first, fold_at(first).closed, "the reasoning is folded")
  local msgs = H.messages(typed_session)
  local m = msgs[#msgs]
  eq({ "think 60", "", "cancelled" }, { msgs[#msgs - 1].content, m.content, m.stopReason }, "the stored reply")
  eq(vim.trim(block[3]), vim.trim(m.reasoning), "the stored reasoning is the one shown")
  eq(export_of(typed_session), table.concat(H.without_draft(H.chat_lines()), "\n") .. "\n", "buffer = markdown export + draft")
  typed_lines = H.chat_lines()
  use_model("echo")
end)

test("reopening a session shows its reasoning folded and its markers, as they were shown live", function()
  truthy(typed_lines, "the chat buffer of the tests before, which did not get to their end")
  pick_session(first_session)
  truthy(not H.chat_text():find(OPEN, 1, true), "no reasoning in the first session")
  pick_session(typed_session)
  local lines = H.chat_lines()
  eq(table.concat(typed_lines, "\n"), table.concat(lines, "\n"), "the reopened session = the buffer as it was after the replies")
  local opens = {}
  for i, l in ipairs(lines) do
    if l == OPEN then
      table.insert(opens, i)
    end
  end
  eq(2, #opens, "two reasoning blocks")
  eq(words("t", 15), lines[opens[1] + 2], "the stored reasoning")
  for _, lnum in ipairs(opens) do
    eq({ lnum, 1 }, { fold_at(lnum).closed, fold_at(lnum).level }, "the reasoning at line " .. lnum .. " is folded")
  end
  local text = table.concat(lines, "\n")
  truthy(text:find("I'm sorry, I can't help with that.\n\n" .. REFUSED, 1, true), "the refusal marker:\n" .. text)
  truthy(text:find("Partial \n\n" .. FILTERED, 1, true), "the filter marker:\n" .. text)
  -- Opened by the user, then the same session picked again: folded again.
  vim.api.nvim_win_call(vim.fn.bufwinid(chat.bufnr()), function()
    vim.cmd(opens[1] .. "foldopen")
  end)
  eq(-1, fold_at(opens[1]).closed, "the fold opened")
  local buf = chat.bufnr()
  vim.api.nvim_buf_set_lines(buf, -2, -1, false, { "a draft the reload drops" })
  pick_session(typed_session)
  wait(function()
    return not H.chat_text():find("a draft the reload drops", 1, true)
  end, "the session rendered again")
  eq(opens[1], fold_at(opens[1]).closed, "the reasoning is folded again after the reload")
end)

test("show_reasoning = false leaves the reasoning out of the buffer", function()
  local tinychat = require("tinychat")
  local config = tinychat.config
  tinychat.setup({ cmd = { daemon }, provider = "echo", show_reasoning = false })
  local ok, err = pcall(function()
    use_model("openai")
    send("think 5")
    eq({ words("w", 5) }, (reply_lines()), "the reply is the answer alone")
    local msgs = H.messages(typed_session)
    eq(words("t", 5), msgs[#msgs].reasoning, "the reasoning is stored all the same")
    pick_session(first_session)
    pick_session(typed_session)
    local text = H.chat_text()
    truthy(not text:find(OPEN, 1, true), "no reasoning block in the reopened session:\n" .. text)
    truthy(not text:find("t0", 1, true), "no reasoning text in the reopened session:\n" .. text)
    truthy(text:find("\n\n" .. vim.pesc(words("w", 15)) .. "\n\n## You"), "the think 15 answer is still there:\n" .. text)
    eq(false, pcall(tinychat.setup, { show_reasoning = "no" }), "setup checks show_reasoning")
  end)
  tinychat.config = config
  use_model("echo")
  assert(ok, err)
end)


-- Tool calls. The fake provider's 'tool {"path": "a.txt"}' says "Reading. ",
-- calls the built-in read_file with those arguments and, once the result
-- is back, answers "The tool said: " and the result. The daemon's policy
-- leaves read_file to the user, so it asks the plugin, which asks with
-- vim.ui.select. An "always" answer is remembered for the workspace: each
-- test has a workspace of its own, holding a.txt.
local TOOL_MSG, ARGS = 'tool {"path": "a.txt"}', '{"path": "a.txt"}'
local A_TXT = "hello from a\nsecond line\n"
local OUTPUT = "<details><summary>Output</summary>"
local DECLINED = "The user declined to run this tool call."
local LIMIT = "*(stopped after the tool-step limit)*"
local LABELS = {
  once = "Allow once",
  always = "Always allow read_file (in this workspace)",
  reject = "Reject",
  never = "Always reject read_file (in this workspace)",
}

-- call_lines are the lines of a read_file call as the buffer shows it.
local function call_lines(args, status, output)
  local lines = vim.split("**Tool** `read_file` `" .. args .. "` (" .. status .. ")", "\n", { plain = true })
  if output then
    vim.list_extend(lines, { "", OUTPUT, "", "```" })
    vim.list_extend(lines, vim.split(output:gsub("\n$", ""), "\n", { plain = true }))
    vim.list_extend(lines, { "```", "", CLOSE })
  end
  return lines
end

-- tool_reply is the whole reply to TOOL_MSG: "Reading. ", the call, the
-- answer.
local function tool_reply(status, output)
  local lines = { "Reading. ", "" }
  vim.list_extend(lines, call_lines(ARGS, status, output))
  vim.list_extend(lines, { "" })
  vim.list_extend(lines, vim.split(("The tool said: " .. output):gsub("\n$", ""), "\n", { plain = true }))
  return lines
end

-- tool_workspace starts the daemon again in a new workspace holding a.txt
-- (Neovim's cwd, as a user would) and opens a new session there.
local tool_workspaces = 0
local function tool_workspace()
  tool_workspaces = tool_workspaces + 1
  local dir = vim.fn.fnamemodify(workspace, ":h") .. "/tools-" .. tool_workspaces
  vim.fn.mkdir(dir, "p")
  H.write_file(dir .. "/a.txt", A_TXT)
  rpc.stop({ wait = 2000 })
  wait(function()
    return not rpc.running()
  end, "the daemon to stop")
  vim.cmd("cd " .. vim.fn.fnameescape(dir))
  local before = chat.session_id()
  vim.cmd("TinyChatNew")
  wait(function()
    return chat.session_id() ~= nil and chat.session_id() ~= before
  end, "a new session")
  use_model("openai")
  local id = chat.session_id()
  eq(uv.fs_realpath(dir), H.call("session/get", { sessionId = id }).session.workspace, "the session's workspace")
  return id
end

-- picker replaces vim.ui.select while fn runs: each question is recorded
-- in asked ({prompt, kind, labels}) and
-- answered with the item whose label choose(labels) gives (nil: the
-- picker dismissed). choose may return false to leave it unanswered:
-- asked[i].answer(label) answers later.
local function picker(choose, fn)
  local asked = {}
  local select = vim.ui.select
  vim.ui.select = function(items, opts, on_choice)
    local labels = vim.tbl_map(opts.format_item or tostring, items)
    local q = { prompt = opts.prompt, kind = opts.kind, labels = labels }
    function q.answer(label)
      for i, l in ipairs(labels) do
        if l == label then
          return on_choice(items[i], i)
        end
      end
      on_choice(nil, nil)
    end
    table.insert(asked, q)
    local pick = choose(labels)
    if pick ~= false then
      q.answer(pick)
    end
  end
  local ok, err = pcall(fn, asked)
  vim.ui.select = select
  assert(ok, err)
end

-- tool_call_fold checks the call whose first line is head: one fold from
-- there to its CLOSE line (last), closed, its first line saying what it
-- is; the lines around it not folded.
local function tool_call_fold(head, last, status)
  eq({ head, 1 }, { fold_at(head).closed, fold_at(head).level }, "the tool call at line " .. head .. " is folded")
  eq(head, fold_at(last).closed, "the fold holds the call's whole output, to line " .. last)
  eq({ -1, 0 }, { fold_at(head - 2).closed, fold_at(head - 2).level }, "the text before the call is not folded")
  eq({ -1, 0 }, { fold_at(last + 2).closed, fold_at(last + 2).level }, "the text after the call is not folded")
  local shown = vim.api.nvim_win_call(vim.fn.bufwinid(chat.bufnr()), function()
    return vim.fn.foldtextresult(head)
  end)
  truthy(shown:find("Tool read_file", 1, true) and shown:find(status, 1, true), "the fold's line names the tool and its status: " .. shown)
end

local tool_session -- the session of the first tool test
local tool_lines -- its chat buffer then

test("a tool call allowed once runs: asked without blocking, shown between the texts, folded", function()
  tool_session = tool_workspace()
  picker(function()
    return false
  end, function(asked)
    vim.cmd("TinyChat " .. TOOL_MSG)
    wait(function()
      return #asked > 0
    end, "the permission question")
    local q = asked[1]
    eq("tinychat_permission", q.kind, "the picker's kind")
    eq({ LABELS.once, LABELS.always, LABELS.reject, LABELS.never }, q.labels, "the choices")
    truthy(q.prompt:find("read_file " .. ARGS, 1, true), "the question names the tool and its arguments: " .. q.prompt)
    -- While the question waits, the reply shows the call as pending, and
    -- the editor and the daemon go on. (The daemon may send the question
    -- ahead of the notifications before it: wait for them.)
    local want = { "Reading. ", "" }
    vim.list_extend(want, call_lines(ARGS, "pending"))
    local ok = vim.wait(2000, function()
      return vim.deep_equal(want, (reply_lines()))
    end, 5)
    eq(want, (reply_lines()), "the reply while the question waits (" .. (ok and "" or "timed out") .. ")")
    truthy(chat.streaming(), "the reply waits for the answer")
    truthy(#H.call("session/list", {}).sessions >= 1, "the daemon answers other requests meanwhile")
    q.answer(LABELS.once)
    H.wait_idle()
    eq(1, #asked, "asked once")
  end)
  local body, first = reply_lines()
  eq(tool_reply("completed", A_TXT), body, "the reply: text, the call with its output, the answer")
  local head = first + 2
  tool_call_fold(head, head + #call_lines(ARGS, "completed", A_TXT) - 1, "completed")
  local m = H.messages(tool_session)[2]
  eq({ "end", "Reading. The tool said: " .. A_TXT }, { m.stopReason, m.content }, "the stored reply")
  eq({ "read_file", ARGS, "completed", A_TXT, #"Reading. " }, {
    m.toolCalls[1].name,
    m.toolCalls[1].arguments,
    m.toolCalls[1].status,
    m.toolCalls[1].output,
    m.toolCalls[1].textOffset,
  }, "the stored call")
  wait(function()
    return H.chat_lines()[1] == "# " .. TOOL_MSG
  end, "the title from the store")
  eq(export_of(tool_session), table.concat(H.without_draft(H.chat_lines()), "\n") .. "\n", "buffer = markdown export + draft")
  _, first = reply_lines()
  eq(first + 2, fold_at(first + 2).closed, "the call is still folded after the header refresh")
  tool_lines = H.chat_lines()
end)

test("a rejected tool call shows as rejected, and the model is told", function()
  local id = tool_workspace()
  picker(function()
    return LABELS.reject
  end, function(asked)
    send(TOOL_MSG)
    eq(1, #asked, "asked once")
  end)
  local body, first = reply_lines()
  eq(tool_reply("rejected", DECLINED), body, "the rejected call, and the model's answer to the refusal")
  tool_call_fold(first + 2, first + 1 + #call_lines(ARGS, "rejected", DECLINED), "rejected")
  local m = H.messages(id)[2]
  eq({ "rejected", "end" }, { m.toolCalls[1].status, m.stopReason }, "stored")
end)

test("a dismissed permission picker rejects the call; the reply goes on", function()
  local id = tool_workspace()
  picker(function()
    return nil
  end, function(asked)
    send(TOOL_MSG)
    eq(1, #asked, "asked once")
  end)
  eq(tool_reply("rejected", DECLINED), (reply_lines()), "the call rejected, the reply complete")
  local m = H.messages(id)[2]
  eq({ "rejected", "end", nil }, { m.toolCalls[1].status, m.stopReason, m.interrupted }, "stored: rejected, not cancelled")
end)

test("always allow: the next call of the tool in the workspace is not asked", function()
  local id = tool_workspace()
  picker(function()
    return LABELS.always
  end, function(asked)
    send(TOOL_MSG)
    eq(1, #asked, "asked the first time")
    eq(tool_reply("completed", A_TXT), (reply_lines()), "the first call")
    -- Arguments on several lines: the call's first lines hold them.
    local args = '{\n  "path": "a.txt"\n}'
    chat.send("tool " .. args)
    wait(function()
      return chat.streaming()
    end, "the reply to start")
    H.wait_idle()
    eq(1, #asked, "not asked again")
    local body, first = reply_lines()
    local want = { "Reading. ", "" }
    vim.list_extend(want, call_lines(args, "completed", A_TXT))
    vim.list_extend(want, { "", "The tool said: hello from a", "second line" })
    eq(want, body, "the second call, with its arguments on three lines")
    tool_call_fold(first + 2, first + 13, "completed")
  end)
  local msgs = H.messages(id)
  eq({ "completed", "completed" }, { msgs[2].toolCalls[1].status, msgs[4].toolCalls[1].status }, "stored")
  eq(export_of(id), table.concat(H.without_draft(H.chat_lines()), "\n") .. "\n", "buffer = markdown export + draft")
end)

test("always reject: the next call of the tool in the workspace is rejected unasked", function()
  tool_workspace()
  picker(function()
    return LABELS.never
  end, function(asked)
    send(TOOL_MSG)
    send(TOOL_MSG)
    eq(1, #asked, "asked the first time only")
  end)
  eq(tool_reply("rejected", DECLINED), (reply_lines()), "the second call")
end)

test("tools.auto_approve allows the tools it names without asking", function()
  local tinychat = require("tinychat")
  local config = tinychat.config
  eq(false, pcall(tinychat.setup, { tools = { auto_approve = "read_file" } }), "setup checks tools.auto_approve")
  tinychat.setup({ cmd = { daemon }, provider = "echo", tools = { auto_approve = { "grep", "read_*" } } })
  local ok, err = pcall(function()
    tool_workspace()
    picker(function()
      return LABELS.reject
    end, function(asked)
      send(TOOL_MSG)
      eq(0, #asked, "not asked")
    end)
    eq(tool_reply("completed", A_TXT), (reply_lines()), "the call ran")
  end)
  tinychat.config = config
  assert(ok, err)
end)

test("a reply cancelled while the permission question waits keeps the call, pending", function()
  local id = tool_workspace()
  picker(function()
    return false
  end, function(asked)
    vim.cmd("TinyChat " .. TOOL_MSG)
    wait(function()
      return #asked > 0
    end, "the permission question")
    vim.cmd("TinyChatCancel")
    H.wait_idle()
    local want = { "Reading. ", "" }
    vim.list_extend(want, call_lines(ARGS, "pending"))
    vim.list_extend(want, { "", "*(interrupted)*" })
    eq(want, (reply_lines()), "the cancelled reply")
    local m = H.messages(id)[2]
    eq({ "cancelled", "pending" }, { m.stopReason, m.toolCalls[1].status }, "stored")
    eq(export_of(id), table.concat(H.without_draft(H.chat_lines()), "\n") .. "\n", "buffer = markdown export + draft")
    -- The next call is asked though the first question was never
    -- answered; that one, answered late, goes nowhere.
    vim.cmd("TinyChat " .. TOOL_MSG)
    wait(function()
      return #asked == 2
    end, "the next call's question, while the first one is still open")
    asked[1].answer(LABELS.once)
    asked[2].answer(LABELS.reject)
    H.wait_idle()
    eq(tool_reply("rejected", DECLINED), (reply_lines()), "the next call, rejected by the second answer")
  end)
end)

test("a reopened session shows its tool calls where they were made, folded, as they were shown live", function()
  truthy(tool_lines, "the chat buffer of the first tool test, which did not get to its end")
  -- That session is in another workspace: the daemon of that one shows it.
  rpc.stop({ wait = 2000 })
  wait(function()
    return not rpc.running()
  end, "the daemon to stop")
  vim.cmd("cd " .. vim.fn.fnameescape(vim.fn.fnamemodify(workspace, ":h") .. "/tools-1"))
  truthy(chat.session_id() ~= tool_session, "another session in the buffer")
  pick_session(tool_session)
  local lines = H.chat_lines()
  eq(table.concat(tool_lines, "\n"), table.concat(lines, "\n"), "the reopened session = the buffer as it was after the reply")
  local head
  for i, l in ipairs(lines) do
    if l:find("^%*%*Tool%*%*") then
      head = i
    end
  end
  tool_call_fold(truthy(head, "a tool call in the buffer"), head + #call_lines(ARGS, "completed", A_TXT) - 1, "completed")
end)

test("stored tool calls of every kind: at the start, side by side, failed, long output; the tool-step limit", function()
  local wide = string.rep("é", 300) -- 600 bytes: cut at 500, between characters
  local content = "First. Second part.  Then more."
  local function call(id, args, status, output, offset)
    return { id = id, name = "read_file", arguments = args, status = status, output = output, textOffset = offset }
  end
  local export = {
    version = 1,
    session = { id = "0000000000000001", workspace = workspace, title = "stored calls", createdAt = "2026-12-03T12:00:00.000Z", updatedAt = "2026-12-03T12:00:00.000Z", messageCount = 2 },
    messages = {
      { id = "0000000000000002", role = "user", content = "read them", createdAt = "2026-12-03T12:00:00.000Z" },
      {
        id = "0000000000000003",
        role = "assistant",
        content = content,
        createdAt = "2026-12-03T12:00:01.000Z",
        provider = "openai",
        model = "gpt-4.1-mini",
        stopReason = "max_tool_steps",
        toolCalls = {
          call("c1", '{"path": "b.txt"}', "failed", "open b.txt: no such file", 0),
          call("c2", '{\n"path": "c.txt"\n}', "completed", "```go\nx := 1\n```\n" .. wide, 6),
          call("c3", '{"path": "d.txt"}', "rejected", DECLINED, 6),
          call("c4", '{"path": "e.txt"}', "completed", "", #content),
        },
      },
    },
  }
  local id = H.call("session/import", { content = vim.json.encode(export) }).id
  pick_session(id)
  local body, first = reply_lines()
  local want = {}
  vim.list_extend(want, call_lines('{"path": "b.txt"}', "failed", "open b.txt: no such file"))
  -- The text after a call loses the blank that joined it to the one before.
  vim.list_extend(want, { "", "First.", "" })
  local c2 = call_lines('{\n"path": "c.txt"\n}', "completed", "x")
  -- Its output: in a longer fence, cut at 500 bytes.
  local cut = ("```go\nx := 1\n```\n" .. wide):sub(1, 499)
  c2 = vim.list_slice(c2, 1, 6)
  vim.list_extend(c2, { "````" })
  vim.list_extend(c2, vim.split(cut .. "\n…", "\n", { plain = true }))
  vim.list_extend(c2, { "````", "", CLOSE })
  vim.list_extend(want, c2)
  vim.list_extend(want, { "" })
  vim.list_extend(want, call_lines('{"path": "d.txt"}', "rejected", DECLINED))
  vim.list_extend(want, { "", "Second part.  Then more.", "" })
  vim.list_extend(want, call_lines('{"path": "e.txt"}', "completed"))
  vim.list_extend(want, { "", LIMIT })
  eq(table.concat(want, "\n"), table.concat(body, "\n"), "the reply")
  -- The markdown export has no note for the tool-step limit (yet): the
  -- buffer is the export with the marker.
  local md = export_of(id)
  if not md:find(LIMIT, 1, true) then
    md = md:gsub("\n$", "") .. "\n\n" .. LIMIT .. "\n"
  end
  eq(md, table.concat(H.without_draft(H.chat_lines()), "\n") .. "\n", "buffer = markdown export + marker + draft")
  -- Each call with an output is folded; the one without has no fold.
  local heads = {}
  for i = first, first + #body - 1 do
    if H.chat_lines()[i]:find("^%*%*Tool%*%*") then
      table.insert(heads, i)
    end
  end
  eq(4, #heads, "four calls")
  for i = 1, 3 do
    eq({ heads[i], 1 }, { fold_at(heads[i]).closed, fold_at(heads[i]).level }, "call " .. i .. " is folded")
  end
  eq({ -1, 0 }, { fold_at(heads[4]).closed, fold_at(heads[4]).level }, "the call without output has no fold")
  eq(heads[2], fold_at(heads[2] + 2).closed, "the call with arguments on three lines is one fold")
  vim.cmd("cd " .. vim.fn.fnameescape(workspace))
  rpc.stop({ wait = 2000 })
  wait(function()
    return not rpc.running()
  end, "the daemon to stop")
end)

-- Round two: what users of other chat plugins count on.

local plugin_dir = vim.fn.fnamemodify(here, ":p:h:h")

local function keys(k)
  return vim.api.nvim_replace_termcodes(k, true, false, true)
end

-- chat_win focuses the chat window (opening it) once its session is shown.
local function chat_win()
  vim.cmd("TinyChat")
  H.wait_idle()
  local win = vim.fn.bufwinid(chat.bufnr())
  vim.api.nvim_set_current_win(win)
  return win
end

-- clear_draft empties the draft section.
local function clear_draft()
  local lines = H.chat_lines()
  for i = #lines, 1, -1 do
    if lines[i] == "## You" then
      vim.api.nvim_buf_set_lines(chat.bufnr(), i, -1, false, { "", "" })
      return
    end
  end
end

test("typing in the draft while a reply streams (Go, then keys) stays where it is typed, in order", function()
  use_model("openai")
  local win = chat_win()
  local before = chat.session_id()
  vim.cmd("TinyChatNew")
  wait(function()
    return chat.session_id() ~= before and H.chat_lines()[1] == "# Untitled session"
  end, "a new session")
  H.wait_idle()
  send("first words here")
  -- A second window on the chat, its cursor on the first question.
  wait(function()
    return H.chat_lines()[1] == "# first words here"
  end, "the title")
  local line = truthy(vim.fn.index(H.chat_lines(), "first words here") + 1, "the question's line")
  vim.cmd("split")
  local other = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_cursor(other, { line, 3 })
  vim.api.nvim_set_current_win(win)
  local want = vim.trim(words("w", 30))
  vim.cmd("TinyChat slow 30")
  wait(function()
    return H.last_reply():find("w1 ", 1, true) ~= nil
  end, "two deltas")
  local step, typed_at = 0, {}
  local timer = uv.new_timer()
  timer:start(40, 40, vim.schedule_wrap(function()
    step = step + 1
    if step == 2 then
      vim.api.nvim_feedkeys("abc", "t", false)
    elseif step == 4 then
      vim.api.nvim_feedkeys(" def", "t", false)
    elseif step == 5 then
      typed_at = { vim.api.nvim_win_get_cursor(win), vim.api.nvim_get_current_line(), chat.streaming() }
    elseif (step > 6 and not chat.streaming()) or step > 200 then
      timer:stop()
      timer:close()
      vim.api.nvim_feedkeys(keys("<Esc>"), "t", false)
    end
  end))
  -- Blocks in Insert mode, the reply streaming, until the timer's <Esc>.
  vim.api.nvim_feedkeys("Go", "x!", false)
  H.wait_idle()
  eq(true, typed_at[3], "the keys were typed while the reply streamed")
  eq("abc def", typed_at[2], "the line typed on, while streaming")
  local lines = H.chat_lines()
  eq("abc def", lines[#lines], "the typed line is the draft's last line")
  eq(want, H.last_reply():gsub("%s*abc def$", ""), "the reply, without the typed text")
  eq(1, select(2, H.chat_text():gsub("abc def", "")), "the typed text once")
  eq({ line, 3 }, vim.api.nvim_win_get_cursor(other), "the other window's cursor did not move")
  vim.api.nvim_win_close(other, true)
  clear_draft()
  use_model("echo")
end)

test(":TinyChatNew then :TinyChat in one tick: the message goes to the new session, in order", function()
  chat_win()
  local before = chat.session_id()
  local count = #H.messages(before)
  notes = {}
  vim.cmd("TinyChatNew")
  vim.cmd("TinyChat into the new one")
  wait(function()
    return chat.session_id() ~= before and not chat.streaming() and H.last_reply() == "into the new one"
  end, "the reply in the new session")
  H.wait_idle()
  local id = chat.session_id()
  eq({ "into the new one", "into the new one" }, vim.tbl_map(function(m)
    return m.content
  end, H.messages(id)), "the new session's messages")
  eq(count, #H.messages(before), "nothing went to the old session")
  eq(nil, noted("failed"), "no handler failure: " .. vim.inspect(notes))
end)

test("commands take | : :TinyChatNew | TinyChat hi", function()
  chat_win()
  local before = chat.session_id()
  vim.cmd("TinyChatNew | TinyChat after a bar")
  wait(function()
    return chat.session_id() ~= before and H.last_reply() == "after a bar"
  end, "the reply after the bar")
  H.wait_idle()
  eq(2, #H.messages(chat.session_id()), "the new session holds the turn")
end)

test("u after a reply does not undo what the plugin wrote", function()
  chat_win()
  local before = chat.session_id()
  vim.cmd("TinyChatNew")
  wait(function()
    return chat.session_id() ~= before and H.chat_lines()[1] == "# Untitled session"
  end, "a new session")
  H.wait_idle()
  -- As a user: type the message in the draft, send it with the key.
  vim.api.nvim_feedkeys("Giundo me not" .. keys("<Esc>"), "nx", false)
  vim.api.nvim_feedkeys(keys("<CR>"), "mx", false)
  wait(function()
    return H.last_reply() == "undo me not"
  end, "the reply")
  H.wait_idle()
  wait(function()
    return H.chat_lines()[1] == "# undo me not"
  end, "the title")
  local lines = H.chat_lines()
  vim.cmd("silent normal! u")
  eq(lines, H.chat_lines(), "the chat after u")
  -- The user's own typing still undoes.
  vim.api.nvim_feedkeys("Gimy draft" .. keys("<Esc>"), "nx", false)
  eq("my draft", H.chat_lines()[#lines], "typed")
  vim.cmd("silent normal! u")
  eq(lines, H.chat_lines(), "u undid the typing, and only it")
  vim.cmd("silent normal! u")
  eq(lines, H.chat_lines(), "a second u changes nothing")
end)

test(":help tinychat works after the native-package install; doc/tags is what :helptags writes", function()
  local tags = plugin_dir .. "/doc/tags"
  truthy(uv.fs_stat(tags), "doc/tags is shipped")
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir .. "/doc", "p")
  H.write_file(dir .. "/doc/tinychat.txt", H.read_file(plugin_dir .. "/doc/tinychat.txt"))
  vim.cmd("helptags " .. vim.fn.fnameescape(dir .. "/doc"))
  eq(H.read_file(dir .. "/doc/tags"), H.read_file(tags), "doc/tags is up to date (run :helptags editors/nvim/doc)")
  -- The README's install: a link under pack/*/start, nothing else.
  local pack = dir .. "/site"
  vim.fn.mkdir(pack .. "/pack/tinychat/start", "p")
  assert(uv.fs_symlink(plugin_dir, pack .. "/pack/tinychat/start/tinychat"))
  local out = vim.fn.system({
    vim.v.progpath, "--headless", "-u", "NORC", "-i", "NONE", "-n",
    "--cmd", "set packpath=" .. pack,
    "-c", "help tinychat",
    "-c", "lua io.stdout:write('\\nhelp=' .. vim.fn.expand('%:t') .. ':' .. vim.fn.getline('.'))",
    "-c", "qa!",
  })
  truthy(out:find("help=tinychat.txt:", 1, true), "the help opened: " .. out)
  vim.fn.delete(dir, "rf")
end)

test(":TinyChatModel completes the provider's models, and without arguments picks with vim.ui.select", function()
  chat_win()
  eq({ "test-model", "test-model-large" }, vim.fn.getcompletion("TinyChatModel openai ", "cmdline"), "models of openai")
  eq({ "test-model-large" }, vim.fn.getcompletion("TinyChatModel openai test-model-l", "cmdline"), "completed from a prefix")
  eq({ "openai" }, vim.fn.getcompletion("TinyChatModel ope", "cmdline"), "providers")
  picker(function(labels)
    for _, l in ipairs(labels) do
      if l:find("^openai") or l:find("^test%-model%-large") then
        return l
      end
    end
  end, function(asked)
    vim.cmd("TinyChatModel")
    wait(function()
      return select(2, chat.get_model()) == "test-model-large"
    end, "the model picked")
    eq(2, #asked, "asked the provider, then the model")
    truthy(vim.tbl_contains(asked[2].labels, "test-model"), "the models offered: " .. vim.inspect(asked[2].labels))
  end)
  eq("openai", (chat.get_model()), "the provider picked")
  use_model("echo")
end)

test(":TinyChatModel warns of a provider without a key in one message that stays", function()
  notes = {}
  vim.cmd("TinyChatModel anthropic")
  wait(function()
    return (chat.get_model()) == "anthropic"
  end, "the provider set")
  H.wait_idle()
  eq(1, #notes, "one notification: " .. vim.inspect(notes))
  eq(vim.log.levels.WARN, notes[1].level, "a warning")
  truthy(notes[1].msg:find("anthropic", 1, true) and notes[1].msg:find("no key", 1, true), notes[1].msg)
  use_model("echo")
end)

test("retries are shown while the reply waits for the provider", function()
  use_model("openai")
  chat_win()
  vim.cmd("TinyChat error 503 overloaded")
  local status = require("tinychat").statusline
  truthy(status, "a statusline component")
  local ns = vim.api.nvim_get_namespaces()["tinychat_status"]
  local function shown()
    if not ns then
      ns = vim.api.nvim_get_namespaces()["tinychat_status"]
      return ""
    end
    local out = {}
    for _, m in ipairs(vim.api.nvim_buf_get_extmarks(chat.bufnr(), ns, 0, -1, { details = true })) do
      for _, chunk in ipairs(m[4].virt_text or {}) do
        table.insert(out, chunk[1])
      end
    end
    return table.concat(out)
  end
  wait(function()
    return shown():find("retry", 1, true) ~= nil
  end, "a retry shown in the chat")
  truthy(shown():find("503", 1, true), "the reason: " .. shown())
  truthy(shown():find("attempt 1, after [%d.]+m?s%)"), "the attempt and its wait, from chat/retry: " .. shown())
  truthy(status():find("retry", 1, true), "the statusline: " .. status())
  vim.cmd("TinyChatCancel")
  H.wait_idle()
  eq("", status(), "the statusline once idle")
  eq(nil, shown():find("retry", 1, true), "no retry shown once the reply ended: " .. shown())
  clear_draft()
  use_model("echo")
end)

test("the chat window keeps a usable width on a narrow terminal", function()
  local columns = vim.o.columns
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_buf(win) == chat.bufnr() and #vim.api.nvim_list_wins() > 1 then
      vim.api.nvim_win_close(win, true)
    end
  end
  vim.cmd("enew")
  vim.o.columns = 50
  vim.cmd("vsplit | vsplit")
  local ok, err = pcall(function()
    vim.cmd("TinyChat")
    local w = vim.api.nvim_win_get_width(vim.fn.bufwinid(chat.bufnr()))
    truthy(w >= 40, "the chat window is " .. w .. " columns wide on a 50-column screen")
  end)
  vim.o.columns = columns
  vim.cmd("TinyChat")
  vim.cmd("only")
  assert(ok, err)
  H.wait_idle()
end)

test(":TinyChatExport asks before overwriting a file; ! does not", function()
  chat_win()
  local file = vim.fn.tempname()
  H.write_file(file, "keep me\n")
  picker(function(labels)
    return labels[#labels]
  end, function(asked)
    vim.cmd("TinyChatExport text " .. vim.fn.fnameescape(file))
    wait(function()
      return #asked == 1
    end, "the question")
    H.wait_idle()
    truthy(asked[1].prompt:find(file, 1, true), "the question names the file: " .. asked[1].prompt)
    eq("keep me\n", H.read_file(file), "not overwritten when declined")
  end)
  picker(function(labels)
    return labels[1]
  end, function(asked)
    vim.cmd("TinyChatExport text " .. vim.fn.fnameescape(file))
    wait(function()
      return H.read_file(file) ~= "keep me\n"
    end, "the file overwritten once allowed")
    eq(1, #asked, "asked once")
  end)
  H.write_file(file, "again\n")
  picker(function()
    return nil
  end, function(asked)
    vim.cmd("TinyChatExport! text " .. vim.fn.fnameescape(file))
    wait(function()
      return H.read_file(file) ~= "again\n"
    end, "the file overwritten with !")
    eq(0, #asked, "not asked with !")
  end)
  vim.fn.delete(file)
end)

test(":cd moves the chat to the new directory's workspace", function()
  chat_win()
  local dir = vim.fn.fnamemodify(workspace, ":h") .. "/elsewhere"
  vim.fn.mkdir(dir, "p")
  send("in the first workspace")
  local first = chat.session_id()
  vim.cmd("cd " .. vim.fn.fnameescape(dir))
  local ok, err = pcall(function()
    send("in the second workspace")
    local id = chat.session_id()
    truthy(id ~= first, "another session")
    eq(uv.fs_realpath(dir), H.call("session/get", { sessionId = id }).session.workspace, "the session's workspace")
  end)
  vim.cmd("cd " .. vim.fn.fnameescape(workspace))
  assert(ok, err)
  wait(function()
    return chat.session_id() == first
  end, "the first workspace's session back")
  H.wait_idle()
end)

test("code blocks: ]b and [b jump between them, gy yanks one, ga applies it to its file with a diff", function()
  use_model("echo")
  local file = workspace .. "/apply.lua"
  local original = "local a = 1\nlocal b = 2\nlocal c = 3\n"
  H.write_file(file, original)
  vim.cmd("wincmd p")
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local src = vim.api.nvim_get_current_buf()
  chat.send("Use this:\n```lua\nlocal b = 20\nlocal bb = 21\n```", { require("tinychat").context_item(src, 2, 2) })
  wait(function()
    return chat.streaming()
  end, "the reply to start")
  H.wait_idle()
  local win = vim.fn.bufwinid(chat.bufnr())
  vim.api.nvim_set_current_win(win)
  local lines = H.chat_lines()
  local head
  for i, l in ipairs(lines) do
    if l == "## Assistant" then
      head = i
    end
  end
  vim.api.nvim_win_set_cursor(win, { head, 0 })
  local function press(k)
    vim.api.nvim_feedkeys(keys(k), "mx", false)
    return vim.api.nvim_win_get_cursor(win)[1]
  end
  local first = press("]b")
  eq("```lua", lines[first], "]b lands on a fence")
  truthy(first > head, "below the reply's heading")
  local second = press("]b")
  truthy(second > first and lines[second] == "```lua", "]b again: the next block, at " .. second)
  eq(first, press("[b"), "[b goes back")
  eq(second, press("]b"), "]b to the last block")
  eq(second, press("]b"), "no block below the last")
  press("gy")
  eq({ "local b = 20\nlocal bb = 21\n", "V" }, { vim.fn.getreg('"'), vim.fn.getregtype('"') }, "yanked linewise")
  press("ga")
  wait(function()
    return #vim.api.nvim_list_tabpages() == 2
  end, "the diff tab")
  local wins = vim.api.nvim_tabpage_list_wins(0)
  eq(2, #wins, "two windows in the diff tab")
  for _, w in ipairs(wins) do
    eq(true, vim.wo[w].diff, "diff mode in window " .. w)
  end
  eq(src, vim.api.nvim_get_current_buf(), "the file's buffer is current")
  eq({ "local a = 1", "local b = 20", "local bb = 21", "local c = 3" }, vim.api.nvim_buf_get_lines(src, 0, -1, false), "the block replaced the line sent")
  eq({ 2, 0 }, vim.api.nvim_win_get_cursor(0), "the cursor on the change")
  eq(original, H.read_file(file), "nothing written")
  local before = vim.api.nvim_win_get_buf(wins[1] == vim.api.nvim_get_current_win() and wins[2] or wins[1])
  eq(vim.split(original:gsub("\n$", ""), "\n"), vim.api.nvim_buf_get_lines(before, 0, -1, false), "the other side: the file before")
  vim.cmd("silent normal! u")
  eq(vim.split(original:gsub("\n$", ""), "\n"), vim.api.nvim_buf_get_lines(src, 0, -1, false), "u takes the change back")
  vim.cmd("tabclose")
  vim.cmd("diffoff!")
  vim.api.nvim_set_current_win(win)
end)

test(":TinyChatRename, :TinyChatSearch and :TinyChatDelete work on the chat's sessions", function()
  chat_win()
  local before = chat.session_id()
  vim.cmd("TinyChatNew")
  send("zebra crossing ahead")
  local zebra = chat.session_id()
  truthy(zebra ~= before, "a new session")
  vim.cmd('TinyChatRename Zebra "notes" | here')
  wait(function()
    return H.chat_lines()[1] == '# Zebra "notes" | here'
  end, "the new title in the chat")
  eq('Zebra "notes" | here', H.call("session/get", { sessionId = zebra }).session.title, "stored")
  vim.cmd("TinyChatNew")
  wait(function()
    return chat.session_id() ~= zebra
  end, "another session")
  picker(function(labels)
    return labels[1]
  end, function(asked)
    vim.cmd("TinyChatSearch zebra")
    wait(function()
      return chat.session_id() == zebra and H.chat_lines()[1] == '# Zebra "notes" | here'
    end, "the session found")
    H.wait_idle()
    eq("tinychat_search", asked[1].kind, "the picker's kind")
    truthy(asked[1].labels[1]:find('Zebra "notes" | here', 1, true) and asked[1].labels[1]:find("«zebra»", 1, true), asked[1].labels[1])
    local line = vim.api.nvim_get_current_line()
    truthy(line == "## You" or line == "## Assistant", "the cursor on the message's heading: " .. line)
  end)
  picker(function()
    return "Keep"
  end, function(asked)
    vim.cmd("TinyChatDelete")
    H.wait_idle()
    eq(1, #asked, "asked")
    truthy(asked[1].prompt:find("Zebra", 1, true), asked[1].prompt)
  end)
  eq(zebra, chat.session_id(), "kept")
  picker(function()
    return "Delete"
  end, function()
    vim.cmd("TinyChatDelete")
    wait(function()
      return chat.session_id() ~= zebra
    end, "the workspace's current session shown")
    H.wait_idle()
  end)
  local gone
  rpc.request("session/get", { sessionId = zebra }, function(err)
    gone = err
  end)
  wait(function()
    return gone ~= nil
  end, "session/get's answer")
  eq(-32004, gone.code, "the session is gone")
  truthy(not H.chat_text():find("zebra", 1, true), "not shown")
end)

test("the statusline shows progress; each reply shows its usage; User TinyChatDone fires", function()
  use_model("openai")
  chat_win()
  local fired = {}
  vim.api.nvim_create_autocmd("User", {
    pattern = "TinyChatDone",
    once = true,
    callback = function(ev)
      table.insert(fired, { last = chat.last(), data = ev.data })
    end,
  })
  local statusline = require("tinychat").statusline
  local seen = {}
  vim.cmd("TinyChat slow 20")
  wait(function()
    local s = statusline()
    if s ~= "" then
      seen[s:match("^tinychat: (%a+)") or s] = s
    end
    return not chat.streaming() and #fired == 1
  end, "the reply and TinyChatDone")
  truthy(seen.streaming and seen.streaming:find("B$"), "the size streamed in the statusline: " .. vim.inspect(seen))
  eq("", statusline(), "the statusline once done")
  local last = fired[1].last
  eq({ "end", chat.session_id() }, { last.stopReason, last.sessionId }, "what ended")
  truthy(last.usage and last.usage.outputTokens > 0, "its usage: " .. vim.inspect(last.usage))
  if fired[1].data then
    eq(last, fired[1].data, "the autocmd's data")
  end
  local function notes_on_headings()
    local ns = vim.api.nvim_get_namespaces()["tinychat_status"]
    local out = {}
    for _, m in ipairs(vim.api.nvim_buf_get_extmarks(chat.bufnr(), ns, 0, -1, { details = true })) do
      if H.chat_lines()[m[2] + 1] == "## Assistant" then
        out[m[2] + 1] = m[4].virt_text[1][1]
      end
    end
    return out
  end
  local _, first = reply_lines()
  local want = string.format("  openai · %s · %d in, %d out tokens", last.model, last.usage.inputTokens, last.usage.outputTokens)
  eq(want, notes_on_headings()[first - 2], "the usage after the reply's heading")
  -- Stored: a session opened again shows it too (with the model the
  -- provider named).
  local id = chat.session_id()
  pick_session(id)
  H.wait_idle()
  _, first = reply_lines()
  local shown = notes_on_headings()
  local m = H.messages(id)
  truthy(shown[first - 2] and shown[first - 2]:find(string.format("%d in, %d out tokens", m[#m].usage.inputTokens, m[#m].usage.outputTokens), 1, true), vim.inspect(shown))
  use_model("echo")
end)

test('split = "float" opens the chat in a floating window; width sizes a vertical one', function()
  local tinychat = require("tinychat")
  local config = tinychat.config
  local function close_chat()
    for _, w in ipairs(vim.api.nvim_list_wins()) do
      if vim.api.nvim_win_get_buf(w) == chat.bufnr() and #vim.api.nvim_list_wins() > 1 then
        vim.api.nvim_win_close(w, true)
      end
    end
  end
  local ok, err = pcall(function()
    eq(false, pcall(tinychat.setup, { split = "side" }), "setup checks split")
    eq(false, pcall(tinychat.setup, { width = -1 }), "setup checks width")
    close_chat()
    tinychat.setup({ cmd = { daemon }, provider = "echo", split = "float" })
    vim.cmd("TinyChat")
    local win = vim.api.nvim_get_current_win()
    eq(chat.bufnr(), vim.api.nvim_win_get_buf(win), "the chat is current")
    eq("editor", vim.api.nvim_win_get_config(win).relative, "a floating window")
    eq(math.floor((vim.o.columns - 2) * 0.8), vim.api.nvim_win_get_width(win), "0.8 of the screen")
    close_chat()
    tinychat.setup({ cmd = { daemon }, provider = "echo", width = 33 })
    vim.cmd("TinyChat")
    eq(33, vim.api.nvim_win_get_width(0), "width = 33")
    eq("", vim.api.nvim_win_get_config(0).relative, "a split")
  end)
  tinychat.config = config
  assert(ok, err)
  H.wait_idle()
end)

test("a reply stopped at the size limit is marked and said so", function()
  local path = assert(os.getenv("XDG_CONFIG_HOME")) .. "/tinychat/config.toml"
  vim.fn.mkdir(vim.fn.fnamemodify(path, ":h"), "p")
  H.write_file(path, "max_reply_bytes = 1024\n")
  local ok, err = pcall(function()
    rpc.stop({ wait = 2000 })
    wait(function()
      return not rpc.running()
    end, "the daemon to stop")
    use_model("openai")
    chat_win()
    notes = {}
    send("endless")
    local body = reply_lines()
    eq("*(cut at the size limit)*", body[#body], "the marker")
    truthy(noted("size limit", vim.log.levels.WARN), "said: " .. vim.inspect(notes))
    local m = H.messages(chat.session_id())
    eq("max_size", m[#m].stopReason, "stored")
  end)
  vim.fn.delete(path)
  rpc.stop({ wait = 2000 })
  use_model("echo")
  assert(ok, err)
end)

-- limit_file_size sets the daemon's limit on the size of the files it
-- writes (RLIMIT_FSIZE), as prlimit(1) does: past it a write fails as on
-- a full disk. nil lifts the limit.
local function limit_file_size(pid, bytes)
  local has_ffi, ffi = pcall(require, "ffi")
  if not has_ffi then
    -- A Neovim built with PUC Lua: util-linux's prlimit does the same.
    vim.fn.system({ "prlimit", "--pid", tostring(pid), "--fsize=" .. (bytes and tostring(bytes) or "unlimited") })
    eq(0, vim.v.shell_error, "prlimit --fsize")
    return
  end
  pcall(ffi.cdef, [[
    struct tinychat_rlimit { unsigned long cur; unsigned long max; };
    int prlimit(int pid, int resource, const struct tinychat_rlimit *new, struct tinychat_rlimit *old);
  ]])
  local unlimited = ffi.cast("unsigned long", -1)
  local lim = ffi.new("struct tinychat_rlimit", { bytes or unlimited, unlimited })
  eq(0, ffi.C.prlimit(pid, 1, lim, nil), "prlimit RLIMIT_FSIZE")
end

test("a full disk (-32006): the reply stays shown and the user is told plainly; the next message comes back", function()
  local tinychat = require("tinychat")
  local config = tinychat.config
  local store = vim.fn.tempname() .. ".db"
  rpc.stop({ wait = 2000 })
  wait(function()
    return not rpc.running()
  end, "the daemon to stop")
  tinychat.setup({ cmd = { daemon, "serve", "--db", store }, provider = "echo" })
  local ok, err = pcall(function()
    use_model("openai")
    chat_win()
    -- The session shown is in the other store: start one in this one.
    local before = chat.session_id()
    vim.cmd("TinyChatNew")
    wait(function()
      return chat.session_id() ~= before
    end, "a new session")
    send("a first turn")
    notes = {}
    vim.cmd("TinyChat slow 100")
    wait(function()
      return H.last_reply():find("w1 ", 1, true) ~= nil
    end, "the reply streaming")
    local largest = 0
    for _, f in ipairs({ store, store .. "-wal" }) do
      local st = uv.fs_stat(f)
      largest = math.max(largest, st and st.size or 0)
    end
    limit_file_size(rpc.pid(), largest + 8 * 1024)
    H.wait_idle(15000)
    eq(vim.trim(words("w", 100)), H.last_reply(), "the whole reply, not marked")
    local note = truthy(noted("not yet saved", vim.log.levels.ERROR), "an error: " .. vim.inspect(notes))
    truthy(note.msg:find("store", 1, true) and note.msg:find("disk", 1, true), note.msg)
    eq("end", chat.last().stopReason, "it ended well")
    notes = {}
    send("refused for now")
    local lines = H.chat_lines()
    eq({ "## You", "", "refused for now" }, vim.list_slice(lines, #lines - 2), "the message back in the draft")
    truthy(noted("back in the draft", vim.log.levels.ERROR), "said: " .. vim.inspect(notes))
    limit_file_size(rpc.pid(), nil)
    clear_draft()
  end)
  rpc.stop({ wait = 2000 })
  wait(function()
    return not rpc.running()
  end, "the daemon to stop")
  tinychat.config = config
  vim.fn.delete(store)
  vim.fn.delete(store .. "-wal")
  vim.fn.delete(store .. "-shm")
  assert(ok, err)
  use_model("echo")
end)

test(":TinyChatCancel with no reply drops commands held up by a picker never answered", function()
  chat_win()
  picker(function()
    return false
  end, function(asked)
    vim.cmd("TinyChatSessions")
    wait(function()
      return #asked == 1
    end, "the picker")
    vim.cmd("TinyChatNew")
    eq(2, chat.pending(), "the picker's command and the one after it")
    notes = {}
    vim.cmd("TinyChatCancel")
    eq(0, chat.pending(), "none left")
    truthy(noted("2 commands dropped"), vim.inspect(notes))
    asked[1].answer(nil)
  end)
  local before = chat.session_id()
  vim.cmd("TinyChatNew")
  wait(function()
    return chat.session_id() ~= before
  end, "the next command runs")
  H.wait_idle()
end)

H.run()

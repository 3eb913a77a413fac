-- tinychat.nvim: chat with LLMs in a Neovim buffer, backed by the tinychat
-- daemon and its shared sessions. See :help tinychat.
local M = {}

M.defaults = {
  -- The daemon's command line.
  cmd = { "tinychat" },
  -- Defaults sent to the daemon at start (initializationOptions); nil
  -- leaves the daemon's own (from the environment).
  provider = nil,
  model = nil,
  system = nil,
  -- Where the chat window opens: "vertical", "horizontal", "float" or
  -- "current".
  split = "vertical",
  -- The chat window's size: columns (lines) when at least 1, a fraction
  -- of the screen when less; nil leaves the split's own (a vertical one
  -- is at least 40 columns; a screen too narrow for that splits
  -- horizontally) and makes a float 0.8 of the screen.
  width = nil,
  height = nil,
  -- Show the model's reasoning ("thinking") above each reply, folded once
  -- the answer starts; false leaves it out of the buffer.
  show_reasoning = true,
  -- Tool calls of the model: the daemon asks before each one its policy
  -- leaves to the user, and the plugin asks you (vim.ui.select), except
  -- for the tools named here (names or globs such as "read_*"), which are
  -- allowed at once.
  tools = {
    auto_approve = {},
  },
  -- Keys in the chat buffer (normal mode); false disables one.
  keymaps = {
    send = "<CR>",
    cancel = "<C-c>",
    next_block = "]b", -- the next code block
    prev_block = "[b", -- the previous code block
    yank_block = "gy", -- yank the code block under the cursor
    apply_block = "ga", -- apply it to the file it came from, with a diff
  },
}

M.config = vim.deepcopy(M.defaults)

local splits = { vertical = true, horizontal = true, current = true, float = true }

-- check raises an error naming the first bad option.
local function check(c)
  local function bad(name, want)
    error(string.format("tinychat.setup: %s must be %s, not %s", name, want, vim.inspect(c[name])), 3)
  end
  if type(c.cmd) ~= "table" or type(c.cmd[1]) ~= "string" then
    bad("cmd", "a command line such as { \"tinychat\" }")
  end
  for _, k in ipairs({ "provider", "model", "system" }) do
    if c[k] ~= nil and type(c[k]) ~= "string" then
      bad(k, "a string or nil")
    end
  end
  if not splits[c.split] then
    bad("split", '"vertical", "horizontal", "float" or "current"')
  end
  for _, k in ipairs({ "width", "height" }) do
    if c[k] ~= nil and (type(c[k]) ~= "number" or c[k] <= 0) then
      bad(k, "nil or a number above 0 (columns or lines, or a fraction of the screen below 1)")
    end
  end
  if type(c.show_reasoning) ~= "boolean" then
    bad("show_reasoning", "true or false")
  end
  if type(c.keymaps) ~= "table" then
    bad("keymaps", "a table")
  end
  if type(c.tools) ~= "table" then
    bad("tools", "a table such as { auto_approve = { \"read_file\" } }")
  end
  local approve = c.tools.auto_approve
  local function strings(list)
    if type(list) ~= "table" then
      return false
    end
    for k, v in pairs(list) do
      if type(k) ~= "number" or type(v) ~= "string" then
        return false
      end
    end
    return true
  end
  if not strings(approve) then
    error(
      string.format(
        "tinychat.setup: tools.auto_approve must be a list of tool names or globs, not %s",
        vim.inspect(approve)
      ),
      3
    )
  end
end

-- setup merges opts into the configuration. Calling it is optional: the
-- commands work with the defaults. provider, model and system reach a
-- daemon started after the call.
function M.setup(opts)
  local config = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  if type(config.cmd) == "string" then
    config.cmd = { config.cmd }
  end
  check(config)
  M.config = config
  return M
end

local function notify(msg, level)
  vim.notify(msg, level or vim.log.levels.INFO)
end

-- context_item describes lines line1..line2 (1-based, inclusive) of buf as
-- a chat/send context item.
function M.context_item(buf, line1, line2)
  local name = vim.api.nvim_buf_get_name(buf)
  local uri = name ~= "" and vim.uri_from_bufnr(buf) or ("untitled:" .. buf)
  local lines = vim.api.nvim_buf_get_lines(buf, line1 - 1, line2, false)
  local ft = vim.bo[buf].filetype
  return {
    uri = uri,
    languageId = ft ~= "" and ft or nil,
    -- End exclusive: the start of the line after the last one.
    range = { start = { line = line1 - 1, character = 0 }, ["end"] = { line = line2, character = 0 } },
    text = table.concat(lines, "\n") .. "\n",
  }
end

-- chat is :TinyChat. args.message is the text after the command (may be
-- empty); args.line1 and args.line2 the range when one was given.
function M.chat(args)
  local chat = require("tinychat.chat")
  local message = args.message
  if message == "" then
    message = nil
  end
  local context
  if args.line1 then
    context = { M.context_item(vim.api.nvim_get_current_buf(), args.line1, args.line2) }
  end
  if message then
    chat.send(message, context)
  elseif context then
    vim.ui.input({ prompt = "tinychat> " }, function(input)
      if input and input ~= "" then
        chat.send(input, context)
      end
    end)
  elseif chat.is_chat_buffer(vim.api.nvim_get_current_buf()) then
    chat.send(nil)
  else
    chat.open()
  end
end

function M.cancel()
  require("tinychat.chat").cancel()
end

function M.new()
  require("tinychat.chat").new()
end

local function session_title(s)
  return s.title ~= "" and s.title or "Untitled session"
end

-- sessions lets the user pick one of the workspace's sessions with
-- vim.ui.select and opens it.
function M.sessions()
  local chat = require("tinychat.chat")
  chat.enqueue(function(done)
    require("tinychat.rpc").request("session/list", {}, function(err, res)
      if err then
        notify("tinychat: " .. tostring(err.message), vim.log.levels.ERROR)
        return done()
      end
      if #res.sessions == 0 then
        notify("tinychat: no sessions in this workspace yet")
        return done()
      end
      vim.ui.select(res.sessions, {
        prompt = "tinychat sessions",
        kind = "tinychat_session",
        format_item = function(s)
          local when = tostring(s.updatedAt):gsub("T", " "):sub(1, 16)
          return string.format("%s%s  (%d messages, %s)", s.current and "* " or "", session_title(s), s.messageCount, when)
        end,
      }, function(choice)
        if not choice then
          return done()
        end
        chat.show_session(choice.id, done)
      end)
    end)
  end)
end

-- with_session runs fn(id, done) as a command on the chat's session, or
-- says there is none.
local function with_session(fn)
  local chat = require("tinychat.chat")
  chat.enqueue(function(done)
    local id = chat.session_id()
    if not id then
      notify("tinychat: no session in the chat yet (send a message, or pick one with :TinyChatSessions)", vim.log.levels.WARN)
      return done()
    end
    fn(id, done)
  end)
end

-- rename is :TinyChatRename: the chat's session gets title, asked for
-- (vim.ui.input) when empty.
function M.rename(title)
  local rpc = require("tinychat.rpc")
  with_session(function(id, done)
    local function apply(t)
      if not t or vim.trim(t) == "" then
        return done()
      end
      rpc.request("session/rename", { sessionId = id, title = t }, function(err, res)
        if err then
          notify("tinychat: " .. tostring(err.message), vim.log.levels.ERROR)
        else
          notify("tinychat: renamed to " .. session_title(res))
          require("tinychat.chat").refresh_header()
        end
        done()
      end)
    end
    if title and title ~= "" then
      return apply(title)
    end
    rpc.request("session/get", { sessionId = id }, function(err, res)
      vim.ui.input({ prompt = "Rename session: ", default = not err and res.session.title or "" }, apply)
    end)
  end)
end

-- delete is :TinyChatDelete: the chat's session is deleted, once the user
-- confirms (unless force), and the chat shows the workspace's current one.
function M.delete(force)
  local rpc = require("tinychat.rpc")
  local chat = require("tinychat.chat")
  with_session(function(id, done)
    local function remove()
      rpc.request("session/delete", { sessionId = id }, function(err)
        if err then
          notify("tinychat: " .. tostring(err.message), vim.log.levels.ERROR)
          return done()
        end
        notify("tinychat: session deleted")
        chat.forget(function()
          done()
        end)
      end)
    end
    if force then
      return remove()
    end
    rpc.request("session/get", { sessionId = id }, function(err, res)
      local title = err and id or session_title(res.session)
      vim.ui.select({ "Delete", "Keep" }, {
        prompt = string.format("Delete the session %q and its %d messages?", title, err and 0 or #res.messages),
        kind = "tinychat_confirm",
      }, function(choice)
        if choice == "Delete" then
          return remove()
        end
        done()
      end)
    end)
  end)
end

-- search is :TinyChatSearch: the messages that match query, in this
-- workspace (every workspace with all), picked with vim.ui.select; the
-- chosen one's session opens with the cursor on the message.
function M.search(query, all)
  local rpc = require("tinychat.rpc")
  local chat = require("tinychat.chat")
  chat.enqueue(function(done)
    local params = { query = query }
    if not all then
      params.workspace = vim.fn.getcwd()
    end
    rpc.request("session/search", params, function(err, res)
      if err then
        notify("tinychat: " .. tostring(err.message), vim.log.levels.ERROR)
        return done()
      end
      if #res.hits == 0 then
        notify("tinychat: nothing found for " .. query)
        return done()
      end
      vim.ui.select(res.hits, {
        prompt = "tinychat search: " .. query,
        kind = "tinychat_search",
        format_item = function(h)
          local title = h.title ~= "" and h.title or "Untitled session"
          local snippet = h.snippet:gsub("%s+", " ")
          local where = all and (" [" .. vim.fn.fnamemodify(h.workspace, ":~") .. "]") or ""
          return string.format("%s%s — %s: %s", title, where, h.role == "user" and "You" or "Assistant", snippet)
        end,
      }, function(hit)
        if not hit then
          return done()
        end
        chat.show_session(hit.sessionId, function(ok)
          if ok then
            chat.goto_message(hit.messageId)
          end
          done()
        end)
      end)
    end)
  end)
end

M.export_formats = { "text", "markdown", "json" }
local filetypes = { text = "text", markdown = "markdown", json = "json" }

-- export is :TinyChatExport: the chat's session (or the workspace's
-- current one) in format, written to file or shown in a scratch buffer.
-- An existing file is overwritten only once the user says so, or with
-- force (:TinyChatExport!).
function M.export(format, file, force)
  if not filetypes[format] then
    notify("tinychat: export format must be text, markdown or json, not " .. vim.inspect(format), vim.log.levels.ERROR)
    return
  end
  local chat = require("tinychat.chat")
  chat.enqueue(function(done)
    local params = { format = format, sessionId = chat.session_id() }
    require("tinychat.rpc").request("session/export", params, function(err, res)
      if err then
        notify("tinychat: " .. tostring(err.message), vim.log.levels.ERROR)
        return done()
      end
      if file and file ~= "" then
        local path = vim.fn.fnamemodify(vim.fn.expand(file), ":p")
        local function write()
          local f, why = io.open(path, "wb")
          if not f then
            notify("tinychat: cannot write " .. path .. ": " .. tostring(why), vim.log.levels.ERROR)
            return done()
          end
          f:write(res.content)
          f:close()
          notify("tinychat: exported to " .. path)
          done()
        end
        if force or not (vim.uv or vim.loop).fs_stat(path) then
          return write()
        end
        vim.ui.select({ "Overwrite", "Cancel" }, {
          prompt = path .. " exists: overwrite it?",
          kind = "tinychat_confirm",
        }, function(choice)
          if choice == "Overwrite" then
            return write()
          end
          notify("tinychat: not exported")
          done()
        end)
        return
      end
      vim.cmd("botright new")
      local buf = vim.api.nvim_get_current_buf()
      vim.bo[buf].buftype = "nofile"
      vim.bo[buf].bufhidden = "wipe"
      vim.bo[buf].swapfile = false
      local lines = vim.split((res.content:gsub("\n$", "")), "\n", { plain = true })
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
      vim.bo[buf].filetype = filetypes[format]
      done()
    end)
  end)
end

-- use sets the provider and model of the next messages, saying so in one
-- message (a warning when the provider has no key).
local function use(p, model)
  require("tinychat.chat").set_model(p.name, model)
  local what = "tinychat: using " .. p.name .. (model and (" · " .. model) or "")
  if p.configured == false then
    notify(what .. ", which is not configured (no key): its replies will fail until it has one", vim.log.levels.WARN)
  else
    notify(what)
  end
end

-- pick_model asks for a provider, then for one of its models (from
-- models/list), with vim.ui.select.
local function pick_model(done)
  local rpc = require("tinychat.rpc")
  rpc.request("providers/list", {}, function(err, res)
    if err then
      notify("tinychat: " .. tostring(err.message), vim.log.levels.ERROR)
      return done()
    end
    local current = require("tinychat.chat").get_model()
    vim.ui.select(res.providers, {
      prompt = "tinychat provider",
      kind = "tinychat_provider",
      format_item = function(p)
        local s = p.name .. (p.defaultModel ~= "" and (" (default " .. p.defaultModel .. ")") or "")
        if not p.configured then
          s = s .. " — not configured"
        end
        return s .. (p.name == current and " *" or "")
      end,
    }, function(p)
      if not p then
        return done()
      end
      rpc.request("models/list", { provider = p.name }, function(merr, mres)
        if merr or #mres.models == 0 then
          -- Its default model, then.
          use(p, nil)
          if merr then
            notify("tinychat: no list of models: " .. tostring(merr.message), vim.log.levels.WARN)
          end
          return done()
        end
        vim.ui.select(mres.models, { prompt = "tinychat model (" .. p.name .. ")", kind = "tinychat_model" }, function(m)
          if m then
            use(p, m)
          end
          done()
        end)
      end)
    end)
  end)
end

-- model is :TinyChatModel: later messages go to provider (and model, else
-- the provider's default). Without arguments it asks for both.
function M.model(provider, model)
  local chat = require("tinychat.chat")
  chat.enqueue(function(done)
    if not provider or provider == "" then
      return pick_model(done)
    end
    require("tinychat.rpc").request("providers/list", {}, function(err, res)
      if err then
        notify("tinychat: " .. tostring(err.message), vim.log.levels.ERROR)
        return done()
      end
      local names = {}
      for _, p in ipairs(res.providers) do
        if p.name == provider then
          use(p, model)
          return done()
        end
        table.insert(names, p.name)
      end
      notify(
        "tinychat: unknown provider " .. provider .. " (known: " .. table.concat(names, ", ") .. ")",
        vim.log.levels.ERROR
      )
      done()
    end)
  end)
end

-- models_of is the model ids of provider, from models/list, waited for
-- (completion cannot wait otherwise) at most 3 s and kept for the
-- daemon's life; {} when it fails.
local models_cache = { pid = nil }
local function models_of(provider)
  local rpc = require("tinychat.rpc")
  if models_cache.pid ~= rpc.pid() then
    models_cache = { pid = rpc.pid() }
  end
  if models_cache[provider] then
    return models_cache[provider]
  end
  local done, list = false, nil
  rpc.request("models/list", { provider = provider }, function(err, res)
    done = true
    list = not err and res.models or nil
  end)
  vim.wait(3000, function()
    return done
  end, 10)
  models_cache.pid = rpc.pid()
  if list then
    models_cache[provider] = list
  end
  return list or {}
end

-- complete_model completes :TinyChatModel's arguments: the running
-- daemon's providers, then the models of the one named.
function M.complete_model(arglead, cmdline)
  local args = vim.split(cmdline, "%s+")
  local names
  if #args == 2 then
    local server = require("tinychat.rpc").server
    names = { "anthropic", "openai", "mistral", "gemini", "echo" }
    if server and server.capabilities and server.capabilities.chat then
      names = server.capabilities.chat.providers
    end
  elseif #args == 3 then
    names = models_of(args[2])
  else
    return {}
  end
  return vim.tbl_filter(function(n)
    return vim.startswith(n, arglead)
  end, names)
end

-- statusline is a statusline component: "" when nothing happens, else
-- what the reply in progress does ("tinychat: waiting", "tinychat: retry
-- 2", "tinychat: streaming 1.2 kB") and how many commands wait.
function M.statusline()
  if not package.loaded["tinychat.chat"] then
    return ""
  end
  return require("tinychat.chat").status()
end

return M

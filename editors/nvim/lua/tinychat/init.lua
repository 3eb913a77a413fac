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
  -- Where the chat window opens: "vertical", "horizontal" or "current".
  split = "vertical",
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
  },
}

M.config = vim.deepcopy(M.defaults)

local splits = { vertical = true, horizontal = true, current = true }

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
    bad("split", '"vertical", "horizontal" or "current"')
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

-- sessions lets the user pick one of the workspace's sessions with
-- vim.ui.select and opens it.
function M.sessions()
  local chat = require("tinychat.chat")
  require("tinychat.rpc").request("session/list", {}, function(err, res)
    if err then
      notify("tinychat: " .. tostring(err.message), vim.log.levels.ERROR)
      return
    end
    if #res.sessions == 0 then
      notify("tinychat: no sessions in this workspace yet")
      return
    end
    vim.ui.select(res.sessions, {
      prompt = "tinychat sessions",
      kind = "tinychat_session",
      format_item = function(s)
        local title = s.title ~= "" and s.title or "Untitled session"
        local when = tostring(s.updatedAt):gsub("T", " "):sub(1, 16)
        return string.format("%s%s  (%d messages, %s)", s.current and "* " or "", title, s.messageCount, when)
      end,
    }, function(choice)
      if choice then
        chat.open_session(choice.id)
      end
    end)
  end)
end

M.export_formats = { "text", "markdown", "json" }
local filetypes = { text = "text", markdown = "markdown", json = "json" }

-- export is :TinyChatExport: the chat's session (or the workspace's
-- current one) in format, written to file or shown in a scratch buffer.
function M.export(format, file)
  if not filetypes[format] then
    notify("tinychat: export format must be text, markdown or json, not " .. vim.inspect(format), vim.log.levels.ERROR)
    return
  end
  local params = { format = format, sessionId = require("tinychat.chat").session_id() }
  require("tinychat.rpc").request("session/export", params, function(err, res)
    if err then
      notify("tinychat: " .. tostring(err.message), vim.log.levels.ERROR)
      return
    end
    if file and file ~= "" then
      local path = vim.fn.fnamemodify(vim.fn.expand(file), ":p")
      local f, why = io.open(path, "wb")
      if not f then
        notify("tinychat: cannot write " .. path .. ": " .. tostring(why), vim.log.levels.ERROR)
        return
      end
      f:write(res.content)
      f:close()
      notify("tinychat: exported to " .. path)
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
  end)
end

-- model is :TinyChatModel: later messages go to provider (and model, else
-- the provider's default). Without arguments it shows the choice.
function M.model(provider, model)
  local chat = require("tinychat.chat")
  if not provider or provider == "" then
    local p, m = chat.get_model()
    if p then
      notify("tinychat: provider " .. p .. (m and (", model " .. m) or ""))
    else
      notify("tinychat: the session's own provider (or the daemon's default)")
    end
    return
  end
  require("tinychat.rpc").request("providers/list", {}, function(err, res)
    if err then
      notify("tinychat: " .. tostring(err.message), vim.log.levels.ERROR)
      return
    end
    local names = {}
    for _, p in ipairs(res.providers) do
      if p.name == provider then
        if not p.configured then
          notify("tinychat: provider " .. provider .. " is not configured (no key)", vim.log.levels.WARN)
        end
        chat.set_model(provider, model)
        notify("tinychat: using " .. provider .. (model and (" · " .. model) or ""))
        return
      end
      table.insert(names, p.name)
    end
    notify(
      "tinychat: unknown provider " .. provider .. " (known: " .. table.concat(names, ", ") .. ")",
      vim.log.levels.ERROR
    )
  end)
end

-- complete_providers completes :TinyChatModel's first argument from the
-- running daemon's providers.
function M.complete_providers(arglead, cmdline)
  local server = require("tinychat.rpc").server
  local names = { "anthropic", "openai", "mistral", "gemini", "echo" }
  if server and server.capabilities and server.capabilities.chat then
    names = server.capabilities.chat.providers
  end
  if #vim.split(cmdline, "%s+") > 2 then
    return {}
  end
  return vim.tbl_filter(function(n)
    return vim.startswith(n, arglead)
  end, names)
end

return M

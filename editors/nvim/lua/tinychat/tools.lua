-- Tool calls the user allows: the answer to the daemon's
-- chat/requestPermission, asked with vim.ui.select (or given at once for
-- the tools of the auto_approve option). The daemon asks only for calls
-- its [tools] policy leaves to the user and the workspace has no "always"
-- answer for; the chat/send waits meanwhile, the editor does not.
local rpc = require("tinychat.rpc")

local M = {}

-- CHOICES are the picker's items, in the order shown; outcome is the
-- answer the daemon gets. "Always" is remembered by the daemon for the
-- workspace, in its store.
M.CHOICES = {
  { outcome = "allow_once", label = "Allow once" },
  { outcome = "allow_always", label = "Always allow %s (in this workspace)" },
  { outcome = "reject_once", label = "Reject" },
  { outcome = "reject_always", label = "Always reject %s (in this workspace)" },
}
-- DISMISSED is the answer to a picker closed without a choice (<Esc>):
-- this call is refused and the model told so, but the reply goes on.
-- ("cancelled" would end the whole reply.)
M.DISMISSED = "reject_once"

-- glob turns a name pattern of auto_approve into a Lua pattern: "*" is
-- any run of characters, "?" any one, everything else itself.
local function glob(p)
  local out = p:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".")
  return "^" .. out .. "$"
end

-- auto_approved tells whether the configuration allows the tool name
-- without asking.
function M.auto_approved(name)
  local tools = require("tinychat").config.tools or {}
  for _, p in ipairs(tools.auto_approve or {}) do
    if type(name) == "string" and name:match(glob(p)) then
      return true
    end
  end
  return false
end

-- describe is a tool call on one line, for the question: its name, its
-- server and its arguments (whitespace runs made single spaces, cut at
-- max characters; the chat buffer shows them whole).
function M.describe(call, max)
  local s = tostring(call.name)
  if type(call.server) == "string" and call.server ~= "" then
    s = s .. " (MCP server " .. call.server .. ")"
  end
  local args = type(call.arguments) == "string" and vim.trim(call.arguments:gsub("%s+", " ")) or ""
  if args ~= "" then
    max = max or 300
    if #args > max then
      local cut = max
      -- Not in the middle of a UTF-8 sequence.
      while cut > 0 and args:byte(cut + 1) and args:byte(cut + 1) >= 0x80 and args:byte(cut + 1) < 0xC0 do
        cut = cut - 1
      end
      args = args:sub(1, cut) .. "…"
    end
    s = s .. " " .. args
  end
  return s
end

-- One question at a time: a second request waits for the first answer
-- (the daemon asks one call at a time per reply, so this rarely waits).
-- asking is the question shown, if any.
local queue = {}
local asking = nil

local ask_next

local function ask(item)
  asking = item
  local call = item.params.toolCall or {}
  local offered = item.params.options
  local choices = {}
  for _, c in ipairs(M.CHOICES) do
    if type(offered) ~= "table" or vim.tbl_contains(offered, c.outcome) then
      table.insert(choices, c)
    end
  end
  local function answer(choice)
    if item.done then
      return
    end
    item.done = true
    item.respond({ outcome = choice and choice.outcome or M.DISMISSED })
    if asking == item then
      asking = nil
      vim.schedule(ask_next)
    end
  end
  local ok, err = pcall(vim.ui.select, choices, {
    prompt = "tinychat: the model wants to run " .. M.describe(call),
    kind = "tinychat_permission",
    format_item = function(c)
      return c.label:format(tostring(call.name))
    end,
  }, answer)
  if not ok then
    vim.notify("tinychat: cannot ask about the tool call: " .. tostring(err), vim.log.levels.ERROR)
    answer(nil)
  end
end

ask_next = function()
  if asking or #queue == 0 then
    return
  end
  ask(table.remove(queue, 1))
end

-- forget drops the questions of chat/send request_id, which has ended
-- (cancelled, say): the daemon no longer waits for them. A picker still
-- open for one stays open (vim.ui.select cannot be closed), but its
-- answer goes nowhere and the next question does not wait for it.
function M.forget(request_id)
  for i = #queue, 1, -1 do
    if queue[i].params.requestId == request_id then
      table.remove(queue, i)
    end
  end
  if asking and asking.params.requestId == request_id then
    asking.done = true
    asking = nil
    vim.schedule(ask_next)
  end
end

-- request_permission answers chat/requestPermission {requestId, sessionId,
-- toolCall: {toolCallId, name, server?, arguments}, options}.
local function request_permission(params, respond)
  if type(params) ~= "table" then
    respond({ outcome = M.DISMISSED })
    return
  end
  local call = type(params.toolCall) == "table" and params.toolCall or {}
  if M.auto_approved(call.name) then
    respond({ outcome = "allow_once" })
    return
  end
  table.insert(queue, { params = params, respond = respond })
  -- Not from inside the daemon's output handler: a synchronous picker
  -- (the default one waits for a key) would hold up the other messages.
  vim.schedule(ask_next)
end

rpc.on_request("chat/requestPermission", request_permission)

return M

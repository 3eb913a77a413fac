-- tinychat.nvim commands. Everything else loads on first use. Commands
-- take | (bar) after them, so they chain: :TinyChatNew | TinyChat hi; but
-- those whose argument is free text (:TinyChat, :TinyChatRename,
-- :TinyChatSearch) take the rest of the line, | and " included.
if vim.g.loaded_tinychat then
  return
end
vim.g.loaded_tinychat = true

local command = vim.api.nvim_create_user_command

command("TinyChat", function(opts)
  local args = { message = opts.args }
  if opts.range > 0 then
    args.line1, args.line2 = opts.line1, opts.line2
  end
  require("tinychat").chat(args)
end, {
  nargs = "*",
  range = true,
  desc = "tinychat: open the chat, or send a message (a range goes as context)",
})

command("TinyChatCancel", function()
  require("tinychat").cancel()
end, { nargs = 0, bar = true, desc = "tinychat: cancel the reply in progress" })

command("TinyChatNew", function()
  require("tinychat").new()
end, { nargs = 0, bar = true, desc = "tinychat: start a new session" })

command("TinyChatSessions", function()
  require("tinychat").sessions()
end, { nargs = 0, bar = true, desc = "tinychat: pick a session of this workspace" })

command("TinyChatRename", function(opts)
  require("tinychat").rename(opts.args)
end, { nargs = "*", desc = "tinychat: rename the chat's session" })

command("TinyChatDelete", function(opts)
  require("tinychat").delete(opts.bang)
end, { nargs = 0, bang = true, bar = true, desc = "tinychat: delete the chat's session (! without asking)" })

command("TinyChatSearch", function(opts)
  require("tinychat").search(opts.args, opts.bang)
end, {
  nargs = "+",
  bang = true,
  desc = "tinychat: search this workspace's sessions (! every workspace) and open a match",
})

command("TinyChatExport", function(opts)
  require("tinychat").export(opts.fargs[1], opts.args:match("^%S+%s+(.-)%s*$"), opts.bang)
end, {
  nargs = "+",
  bang = true,
  bar = true,
  complete = function(arglead, cmdline)
    if #vim.split(cmdline, "%s+") > 2 then
      return vim.fn.getcompletion(arglead, "file")
    end
    return vim.tbl_filter(function(f)
      return vim.startswith(f, arglead)
    end, { "text", "markdown", "json" })
  end,
  desc = "tinychat: export the session as text, markdown or json, to a file (! overwrites) or a buffer",
})

command("TinyChatModel", function(opts)
  require("tinychat").model(opts.fargs[1], opts.fargs[2])
end, {
  nargs = "*",
  bar = true,
  complete = function(arglead, cmdline)
    return require("tinychat").complete_model(arglead, cmdline)
  end,
  desc = "tinychat: choose the provider and model of the next messages (a picker without arguments)",
})

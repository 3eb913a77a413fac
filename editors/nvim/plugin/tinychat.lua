-- tinychat.nvim commands. Everything else loads on first use.
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
end, { nargs = "*", range = true, desc = "tinychat: open the chat, or send a message (a range goes as context)" })

command("TinyChatCancel", function()
  require("tinychat").cancel()
end, { nargs = 0, desc = "tinychat: cancel the reply in progress" })

command("TinyChatNew", function()
  require("tinychat").new()
end, { nargs = 0, desc = "tinychat: start a new session" })

command("TinyChatSessions", function()
  require("tinychat").sessions()
end, { nargs = 0, desc = "tinychat: pick a session of this workspace" })

command("TinyChatExport", function(opts)
  require("tinychat").export(opts.fargs[1], opts.args:match("^%S+%s+(.-)%s*$"))
end, {
  nargs = "+",
  complete = function(arglead, cmdline)
    if #vim.split(cmdline, "%s+") > 2 then
      return vim.fn.getcompletion(arglead, "file")
    end
    return vim.tbl_filter(function(f)
      return vim.startswith(f, arglead)
    end, { "text", "markdown", "json" })
  end,
  desc = "tinychat: export the session as text, markdown or json, to a file or a buffer",
})

command("TinyChatModel", function(opts)
  require("tinychat").model(opts.fargs[1], opts.fargs[2])
end, {
  nargs = "*",
  complete = function(arglead, cmdline)
    return require("tinychat").complete_providers(arglead, cmdline)
  end,
  desc = "tinychat: choose the provider (and model) of the next messages",
})

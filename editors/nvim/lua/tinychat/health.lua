-- :checkhealth tinychat: the daemon found and its version, the store,
-- the providers configured.
local M = {}

-- Neovim 0.10 has vim.health.ok etc.; 0.7 has require("health").report_ok;
-- 0.8 and 0.9 have vim.health.report_ok.
local health = vim.health or require("health")
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local warn = health.warn or health.report_warn
local err = health.error or health.report_error
local info = health.info or health.report_info

-- run returns the output lines of cmd, or nil and the error text.
local function run(cmd)
  local out = vim.fn.systemlist(cmd)
  if vim.v.shell_error ~= 0 then
    return nil, table.concat(out, "\n")
  end
  return out
end

-- db_flag returns the --db flags of the daemon command line, for config.
local function db_flag(cmd)
  for i, arg in ipairs(cmd) do
    if arg == "--db" or arg == "-db" then
      return { arg, cmd[i + 1] }
    elseif arg:match("^%-%-?db=") then
      return { arg }
    end
  end
  return {}
end

function M.check()
  local config = require("tinychat").config
  local rpc = require("tinychat.rpc")
  local cmd = config.cmd

  start("tinychat: Neovim")
  local v = vim.version()
  local version = string.format("%d.%d.%d", v.major, v.minor, v.patch)
  if vim.fn.has("nvim-0.7") == 1 then
    ok("Neovim " .. version)
  else
    err("Neovim " .. version .. " is too old: tinychat needs 0.7 or newer")
  end

  start("tinychat: daemon")
  local exe = vim.fn.exepath(cmd[1])
  if exe == "" then
    err(cmd[1] .. " not found or not executable", {
      "Build it with `CGO_ENABLED=0 go build` in the tinychat repository and put it on $PATH,",
      'or set the command: require("tinychat").setup({ cmd = { "/path/to/tinychat" } })',
    })
    return
  end
  local out, why = run({ exe, "version" })
  if not out then
    err(exe .. " version failed: " .. why)
    return
  end
  ok("daemon " .. exe .. ": " .. table.concat(out, " "))
  if rpc.running() then
    local server = rpc.server and rpc.server.serverInfo
    info(string.format("running (pid %d)%s", rpc.pid(), server and (", " .. server.name .. " " .. server.version) or ""))
  else
    info("not running: it starts on the first tinychat command")
  end

  local args = { exe, "config", "--json" }
  vim.list_extend(args, db_flag(cmd))
  local conf, cwhy = run(args)
  if not conf then
    err("tinychat config failed: " .. cwhy)
    return
  end
  local decoded, resolved = pcall(vim.json.decode, table.concat(conf, "\n"))
  if not decoded or type(resolved) ~= "table" then
    err("tinychat config --json printed no JSON: " .. tostring(resolved))
    return
  end
  ok("store: " .. tostring(resolved.db))
  if type(resolved.defaultProvider) == "string" then
    info("default provider: " .. resolved.defaultProvider)
  end
  start("tinychat: providers")
  local configured = 0
  for _, p in ipairs(resolved.providers or {}) do
    local model = type(p.defaultModel) == "string" and p.defaultModel or ""
    local url = type(p.baseUrl) == "string" and p.baseUrl or ""
    local where = (model ~= "" and (", default model " .. model) or "") .. (url ~= "" and (", " .. url) or "")
    if p.configured == true then
      if p.name ~= "echo" then
        configured = configured + 1
      end
      ok(p.name .. ": configured" .. where)
    else
      local env = type(p.key) == "table" and type(p.key.env) == "string" and (" (no key: set " .. p.key.env .. ")") or ""
      info(p.name .. ": not configured" .. env .. where)
    end
  end
  if configured == 0 then
    warn("only the offline echo provider is configured", {
      "Set a key such as OPENAI_API_KEY, ANTHROPIC_API_KEY or MISTRAL_API_KEY, or add a provider to tinychat's config.toml",
    })
  end
end

return M

-- A MariaDB 10.11 server (Debian 12's) up to the login: the handshake (protocol 10) with a
-- fresh scramble, the client's HandshakeResponse41 parsed and recorded (user name, database,
-- auth plug-in, the client's connection attributes, the scrambled password), then the real
-- "Access denied" error packet. A client that asks for TLS is recorded and refused, as a
-- server without TLS refuses it. The reference of the API used here: docs/plugins.md, "Tier 2".

plugin = {
  protocol = "mysql",
  columns = {
    event = "TEXT", username = "TEXT", dbname = "TEXT", auth_plugin = "TEXT",
    auth_response = "TEXT", scramble = "TEXT", client_attrs = "TEXT", client_flags = "TEXT",
  },
}

local VERSION = "5.5.5-10.11.6-MariaDB-0+deb12u1"

-- Capability flags.
local CLIENT_CONNECT_WITH_DB = 0x00000008
local CLIENT_SSL = 0x00000800
local CLIENT_SECURE_CONNECTION = 0x00008000
local CLIENT_PLUGIN_AUTH = 0x00080000
local CLIENT_CONNECT_ATTRS = 0x00100000
local CLIENT_PLUGIN_AUTH_LENENC = 0x00200000

-- What MariaDB 10.11 without TLS announces: the low and high 16 bits, and MariaDB's own 32.
local SERVER_CAPS_LOW = 0xf7fe
local SERVER_CAPS_HIGH = 0x81ff
local MARIADB_CAPS = 0x0000001d
local CHARSET = 45               -- utf8mb4_general_ci
local STATUS_AUTOCOMMIT = 0x0002

local MAX_PACKET = 16384          -- a login packet is far smaller

local function packet(seq, payload)
  return string.pack("<I3B", #payload, seq % 256) .. payload
end

local function read_packet(s)
  local head = s:read(4)
  if head == nil then return nil end
  local len, seq = string.unpack("<I3B", head)
  if len > MAX_PACKET then return nil, seq, "packet too large" end
  if len == 0 then return "", seq end
  local payload = s:read(len)
  if payload == nil then return nil end
  return payload, seq
end

local function err_packet(seq, code, state, message)
  return packet(seq, string.pack("<BI2", 0xff, code) .. "#" .. state .. message)
end

local function scramble()
  local out = {}
  for i = 1, 20 do out[i] = string.char(math.random(33, 126)) end
  return table.concat(out)
end

-- A length-encoded integer at `pos`: the value and the next position.
local function lenenc(data, pos)
  local first = string.unpack("B", data, pos)
  if first < 0xfb then return first, pos + 1 end
  if first == 0xfc then return string.unpack("<I2", data, pos + 1) end
  if first == 0xfd then return string.unpack("<I3", data, pos + 1) end
  if first == 0xfe then return string.unpack("<I8", data, pos + 1) end
  error("bad length-encoded integer")
end

local function lenenc_string(data, pos)
  local len, at = lenenc(data, pos)
  if at + len - 1 > #data then error("string past the end of the packet") end
  return data:sub(at, at + len - 1), at + len
end

-- HandshakeResponse41 (string.unpack errors on a packet that is cut short: the caller's pcall
-- turns that into a bad handshake).
local function parse_response(p)
  local flags, _, _, pos = string.unpack("<I4I4B", p)
  pos = pos + 23
  local r = { flags = flags }
  r.username, pos = string.unpack("z", p, pos)
  if flags & CLIENT_PLUGIN_AUTH_LENENC ~= 0 then
    r.auth, pos = lenenc_string(p, pos)
  elseif flags & CLIENT_SECURE_CONNECTION ~= 0 then
    r.auth, pos = string.unpack("s1", p, pos)
  else
    r.auth, pos = string.unpack("z", p, pos)
  end
  if flags & CLIENT_CONNECT_WITH_DB ~= 0 and pos <= #p then
    r.database, pos = string.unpack("z", p, pos)
  end
  if flags & CLIENT_PLUGIN_AUTH ~= 0 and pos <= #p then
    r.plugin, pos = string.unpack("z", p, pos)
  end
  if flags & CLIENT_CONNECT_ATTRS ~= 0 and pos <= #p then
    local total
    total, pos = lenenc(p, pos)
    local stop = math.min(pos + total, #p + 1)
    local attrs = {}
    while pos < stop and #attrs < 64 do
      local k, v
      k, pos = lenenc_string(p, pos)
      v, pos = lenenc_string(p, pos)
      attrs[#attrs + 1] = k .. "=" .. v
    end
    r.attrs = table.concat(attrs, " ")
  end
  return r
end

function session(s)
  local salt = scramble()
  local greeting = string.pack("<Bz I4", 10, VERSION, math.random(8, 1000000))
    .. salt:sub(1, 8) .. "\0"
    .. string.pack("<I2BI2I2B", SERVER_CAPS_LOW, CHARSET, STATUS_AUTOCOMMIT, SERVER_CAPS_HIGH, 21)
    .. string.rep("\0", 6) .. string.pack("<I4", MARIADB_CAPS)
    .. salt:sub(9, 20) .. "\0"
    .. "mysql_native_password\0"
  s:write(packet(0, greeting))

  local payload, seq, problem = read_packet(s)
  if payload == nil then
    if problem then
      s:record({ event = "bad handshake", client_flags = problem })
      s:write(err_packet((seq or 0) + 1, 1153, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes"))
      s:close("bad handshake")
    end
    return
  end
  local ip = s:peer()
  -- An SSLRequest: the capability flags with CLIENT_SSL and nothing after the 32 bytes.
  if #payload == 32 then
    local flags = string.unpack("<I4", payload)
    if flags & CLIENT_SSL ~= 0 then
      s:record({ event = "tls requested", client_flags = string.format("0x%08x", flags),
        scramble = recce7.hex(salt) })
      s:write(err_packet(seq + 1, 1043, "08S01", "Bad handshake"))
      s:close("tls requested")
    end
  end
  local ok, r = pcall(parse_response, payload)
  if not ok then
    s:record({ event = "bad handshake", client_flags = tostring(r), scramble = recce7.hex(salt) })
    s:write(err_packet(seq + 1, 1043, "08S01", "Bad handshake"))
    s:close("bad handshake")
  end
  s:record({
    event = "login",
    username = r.username,
    dbname = r.database,
    auth_plugin = r.plugin,
    auth_response = recce7.hex(r.auth),
    scramble = recce7.hex(salt),
    client_attrs = r.attrs,
    client_flags = string.format("0x%08x", r.flags),
  })
  local using = (#r.auth > 0) and "YES" or "NO"
  s:write(err_packet(seq + 1, 1045, "28000",
    "Access denied for user '" .. r.username .. "'@'" .. ip .. "' (using password: " .. using .. ")"))
  s:close("access denied")
end

-- Argo CD health of a Conch Reservation (conch.dev/v1alpha1).
--   Granted                       Healthy      holding its Resource
--   Pending, Queued               Progressing  waiting for the Resource to exist, or for its turn
--   Rejected                      Degraded     the Resource will never grant it (allowedHolders)
--   Expired with HeartbeatMissed  Degraded     its holder stopped renewing: a crashed job lost its hold
--   Released, Expired             Healthy      done as asked: released by its holder, or ran its duration
-- A status older than the spec (status.observedGeneration behind metadata.generation) is Progressing.
local hs = {status = "Progressing", message = "Waiting for Conch to see the Reservation"}
if obj.status == nil or obj.status.state == nil or obj.status.state == "" then
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.message = "Waiting for Conch to see the latest spec"
  return hs
end

local reason, message = "", ""
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" then
      reason = c.reason or ""
      message = c.message or ""
    end
  end
end
local state = obj.status.state
if message == "" then
  message = state
end
hs.message = message

if state == "Granted" then
  hs.status = "Healthy"
elseif state == "Pending" or state == "Queued" then
  hs.status = "Progressing"
elseif state == "Rejected" then
  hs.status = "Degraded"
elseif state == "Expired" and reason == "HeartbeatMissed" then
  hs.status = "Degraded"
elseif state == "Released" or state == "Expired" then
  hs.status = "Healthy"
else
  hs.status = "Unknown"
end
return hs

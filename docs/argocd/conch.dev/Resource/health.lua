-- Argo CD health of a Conch Resource (conch.dev/v1alpha1).
--   spec.granting Paused   Suspended    in maintenance: holders keep their holds, newcomers queue
--   Healthy False          Degraded     its cleanup or health check failed: nobody is granted it until repaired
--   Ready True             Healthy      Conch keeps its queue (whether it is free or full is not health)
--   Ready False            Degraded     Conch cannot use its spec
-- No status yet, or a status older than the spec (status.observedGeneration behind metadata.generation), is
-- Progressing.
local hs = {status = "Progressing", message = "Waiting for Conch to see the Resource"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.message = "Waiting for Conch to see the latest spec"
  return hs
end

local ready, available
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    ready = c
  elseif c.type == "Available" then
    available = c
  end
end
if ready == nil then
  return hs
end

hs.message = ready.message or ""
if available ~= nil and available.message ~= nil and available.message ~= "" then
  hs.message = hs.message .. "; " .. available.message
end
local healthy
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Healthy" then
    healthy = c
  end
end
if obj.spec ~= nil and obj.spec.granting == "Paused" then
  hs.status = "Suspended"
elseif healthy ~= nil and healthy.status == "False" then
  hs.status = "Degraded"
  hs.message = "Unhealthy: " .. (healthy.reason or "") .. ": " .. (healthy.message or "")
elseif ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
return hs

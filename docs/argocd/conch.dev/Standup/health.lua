-- Argo CD health of a Conch Standup (conch.dev/v1alpha1).
--   Stalled True      Degraded     the spec cannot work (an invalid schedule or time zone); the message says why
--   spec.suspend      Suspended    no run starts until it is resumed
--   Ready True        Healthy      scheduled (the message names the next run, or the run collecting answers)
--   Ready False       Degraded     no run will start, e.g. Slack is off in the manager
-- No status yet, or a status older than the spec (status.observedGeneration behind metadata.generation), is
-- Progressing.
local hs = {status = "Progressing", message = "Waiting for Conch to see the Standup"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.message = "Waiting for Conch to see the latest spec"
  return hs
end

local ready, stalled, running
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    ready = c
  elseif c.type == "Stalled" then
    stalled = c
  elseif c.type == "Running" then
    running = c
  end
end
if ready == nil then
  return hs
end

hs.message = ready.message or ""
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message or hs.message
elseif obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
elseif ready.status == "True" then
  hs.status = "Healthy"
  if running ~= nil and running.status == "True" and running.message ~= nil then
    hs.message = running.message
  end
elseif ready.status == "False" then
  hs.status = "Degraded"
end
return hs

-- Argo CD health of a Conch StandupRun (conch.dev/v1alpha1), one run of a Standup.
--   Reconciling True   Progressing  the run collects answers (the message says until when, and how many answered)
--   Ready True         Healthy      the run ended: the summary was posted (Completed) or it was cancelled
-- No status yet is Progressing.
local hs = {status = "Progressing", message = "Waiting for Conch to start the run"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" and c.status == "True" then
    hs.status = "Healthy"
    hs.message = c.message or ""
    return hs
  elseif c.type == "Reconciling" and c.status == "True" then
    hs.message = c.message or ""
  end
end
return hs

-- Argo CD health check for meshroute.io/GatewayRoute (tested by tests/python/test_argocd_health.py).
local hs = {}
local status = obj.status
if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for meshroute to reconcile"
  return hs
end
if obj.metadata.generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < obj.metadata.generation) then
  hs.status = "Progressing"
  hs.message = "meshroute has not reconciled the latest spec yet"
  return hs
end
for _, condition in ipairs(status.conditions) do
  if condition.type == "Ready" then
    if condition.status == "True" then
      hs.status = "Healthy"
    elseif condition.reason == "InvalidSpec" or condition.reason == "NameInUse"
        or condition.reason == "AccessDenied" or condition.reason == "LimitExceeded" then
      -- Waiting will not fix these: the spec, the name, IAM or a quota must change.
      hs.status = "Degraded"
    else
      -- DependencyNotFound, AppMeshUnavailable, DeleteFailed: meshroute keeps retrying.
      hs.status = "Progressing"
    end
    hs.message = condition.reason .. ": " .. (condition.message or "")
    return hs
  end
end
hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs

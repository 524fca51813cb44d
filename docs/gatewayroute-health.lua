-- Argo CD health check for meshroute.io/GatewayRoute (tested with Argo CD's own Lua runtime,
-- gopher-lua, by tests/gitops.rs, and with lua5.4 by tests/python/test_argocd_health.py).
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
local ready = nil
local stalled = nil
for _, condition in ipairs(status.conditions) do
  if condition.type == "Ready" then
    ready = condition
  elseif condition.type == "Stalled" and condition.status == "True" then
    stalled = condition
  end
end
if stalled ~= nil then
  -- Waiting will not fix it: the spec, a name, IAM, a quota or another owner must change.
  hs.status = "Degraded"
  hs.message = stalled.reason .. ": " .. (stalled.message or "")
  return hs
end
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
else
  -- Reconciling: meshroute keeps retrying (a missing dependency, App Mesh unavailable).
  hs.status = "Progressing"
end
hs.message = ready.reason .. ": " .. (ready.message or "")
return hs

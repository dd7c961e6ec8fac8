-- Argo CD health of a modelplane InferenceService or InferenceGraph (serving.modelplane.io).
-- Degraded when the operator says Stalled (a failure that needs a change: see
-- modelplane/operator/health.py), Healthy when Ready is True for the current generation,
-- Progressing otherwise. Written for Lua 5.1, the dialect Argo CD runs (gopher-lua).
local hs = {}

local function says(c)
  if c.reason ~= nil and c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason or c.message or ""
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the modelplane operator to report status"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local ready = nil
local stalled = nil
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    ready = c
  elseif c.type == "Stalled" and c.status == "True" then
    stalled = c
  end
end

if stalled ~= nil then
  hs.status = "Degraded"
  hs.message = says(stalled)
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = obj.status.url or "Ready"
  return hs
end
hs.status = "Progressing"
if ready ~= nil then
  hs.message = says(ready)
else
  hs.message = "Waiting for the Ready condition"
end
return hs

"""Per-model runners: the data plane awaits `runner.infer`; blocking backend work leaves the loop here.

`base` holds the Runner protocol and the one off-loop helper; `instances` and `batching` are
the runners; `factory` picks them for a freshly loaded model.
"""

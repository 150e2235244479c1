"""Policy bundles: declarative, versioned rules that turn screening evidence into allow / review / block.

Empty until the policy issue lands; screening verdicts are `clear` or `match` until then.
"""

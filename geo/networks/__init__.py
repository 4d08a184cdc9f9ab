"""Street networks: walk, bike and car graphs built from ways, stored, loaded and routed.

Also snapping points (cell centres, offers, addresses) to their nearest node.
"""

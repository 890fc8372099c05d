"""The read layer: named queries per resource that the pages and the REST API both call.

Every list is a keyset page (``cursor.py``): a fixed order with a unique tiebreak, at most
``MAX_PAGE_SIZE`` rows, no OFFSET and no COUNT(*). Every detail function fetches its related
rows in a fixed number of queries (select_related / one query per related list), so neither a
page nor a serializer issues a query per row.
"""

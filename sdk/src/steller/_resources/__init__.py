"""The partner API resources, one module per API area (private: reach them through a client).

Each module holds the sync resource, its async twin and their ``with_raw_response`` views.
"""

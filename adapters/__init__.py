"""Adapters: platform updates in, engine events; engine replies out, platform messages. Nothing more."""

"""Sign-in: who is asking (``Principal``), and the one service that decides it (``app.auth.sign_in``).

Only the principal is imported here, so the store can build one without importing the service.
"""

from app.auth.principal import PUBLIC, Principal

__all__ = ["PUBLIC", "Principal"]

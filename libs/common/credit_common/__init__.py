"""The small library every service shares: settings, database, events, gRPC bootstrap."""

"""Per-tenant SQLite storage: tenants, units of work, migrations, repositories."""

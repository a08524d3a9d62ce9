"""The key-supervision list (重点监管名单): regions and enterprises officials watch closely."""

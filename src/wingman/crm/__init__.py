"""CRM sync: HubSpot and Salesforce behind one interface (base.py), OAuth tokens sealed at
rest (secrets.py), a durable background worker (worker.py)."""

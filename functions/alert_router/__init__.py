"""alert-router: failures and health changes -> the receivers a routing tree names, once each."""

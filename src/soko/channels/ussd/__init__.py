"""The USSD channel: menus a feature phone reaches by dialling a short code, via an aggregator."""

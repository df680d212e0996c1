"""How handlers are served: functions-framework HTTP, AWS Lambda, the local broker."""

"""Pure domain: values, rules and decisions, standard library only."""

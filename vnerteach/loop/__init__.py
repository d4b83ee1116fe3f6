"""The annotation session: the controller between a recipe's stream, the store and the app; feeds, sorters, the update worker."""

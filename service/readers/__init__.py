"""A reader's life: sign-up, confirmation, their own actions, their record, import."""

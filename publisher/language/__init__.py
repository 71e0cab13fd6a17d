"""Language guard: is each variant really in its language, and are place names in the reader's?"""

import SISync
print("placeholder")

import Engine
print("zoo")

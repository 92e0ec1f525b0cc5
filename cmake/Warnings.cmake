# Warnings are on for every target and kept clean.
add_compile_options(-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
                    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                    -Wformat=2)
# cuda.h and nlohmann use old-style casts and zero-size tricks in their headers; they are
# included as SYSTEM headers so these warnings stay about our code only.
